// The core envelope against the embedded local KMS through the real @aws-sdk/client-kms: the failure
// modes a user meets in production (disabled key, pending deletion, revoked grant, wrong key, throttling,
// outage) arrive as typed errors with the KMS exception as cause, and lose nothing.
import {
  CancelKeyDeletionCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  type KMSClient,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms'
import {
  Envelope,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsKeyring,
  KmsThrottledError,
  KmsUnavailableError,
} from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CUSTOMER = '111122223333'
const SERVICE = '444455556666'

let kms: LocalKms
let admin: KMSClient
let service: KMSClient

beforeAll(async () => {
  kms = await LocalKms.create({
    seed: {
      accounts: [
        {
          id: CUSTOMER,
          principals: [
            { arn: `arn:aws:iam::${CUSTOMER}:root`, accessKeyId: 'test', secretAccessKey: 'test' },
          ],
        },
        {
          id: SERVICE,
          principals: [
            {
              arn: `arn:aws:iam::${SERVICE}:role/profiles-service`,
              accessKeyId: 'service',
              secretAccessKey: 'service-secret',
            },
          ],
        },
      ],
    },
  })
  admin = kms.client({ maxAttempts: 1 })
  service = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
})
afterAll(async () => {
  await kms?.close()
})

async function newKey(): Promise<string> {
  const { KeyMetadata } = await admin.send(new CreateKeyCommand({}))
  return KeyMetadata!.Arn!
}

describe('core envelope over the local KMS', () => {
  it('round trip; data keys cached; the encryption context reaches KMS', async () => {
    const arn = await newKey()
    const keyring = new KmsKeyring({ client: admin, generatorKeyId: arn })
    const envelope = new Envelope({ keyring })
    const cts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => envelope.encrypt(`m${i}`, { context: { tenant: 'acme' } })),
    )
    expect(keyring.stats().generateDataKey).toBe(1)
    const reader = new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) })
    expect(await reader.decryptString(cts[42]!, { expectedContext: { tenant: 'acme' } })).toBe('m42')
    const events = kms.engine.auditLog().filter((e) => e.eventName === 'GenerateDataKey')
    expect(JSON.stringify(events.at(-1))).toContain('acme')
  })

  it('a disabled key makes data unreadable with KeyDisabledError; enabling it restores access', async () => {
    const arn = await newKey()
    const writer = new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) })
    const ct = await writer.encrypt('pii')
    await admin.send(new DisableKeyCommand({ KeyId: arn }))
    const reader = () => new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) })
    const err = await reader()
      .decrypt(ct)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).toMatchObject({ code: 'ERR_KEY_DISABLED', keyState: 'Disabled' })
    expect((err as Error).cause).toBeDefined()
    await expect(reader().encrypt('x')).rejects.toBeInstanceOf(KeyDisabledError)
    await admin.send(new EnableKeyCommand({ KeyId: arn }))
    expect(await reader().decryptString(ct)).toBe('pii')
  })

  it('a key pending deletion: KeyDisabledError naming PendingDeletion', async () => {
    const arn = await newKey()
    const ct = await new Envelope({
      keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }),
    }).encrypt('pii')
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }))
    const err = await new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) })
      .decrypt(ct)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect((err as KeyDisabledError).message).toMatch(/CancelKeyDeletion/)
    await admin.send(new CancelKeyDeletionCommand({ KeyId: arn }))
  })

  it('a service uses a customer key through a grant; revoking the grant makes the data unreadable at once', async () => {
    const arn = await newKey()
    const { GrantId, GrantToken } = await admin.send(
      new CreateGrantCommand({
        KeyId: arn,
        GranteePrincipal: `arn:aws:iam::${SERVICE}:role/profiles-service`,
        Operations: ['GenerateDataKey', 'Decrypt'],
      }),
    )
    const keyring = () => new KmsKeyring({ client: service, generatorKeyId: arn, grantTokens: [GrantToken!] })
    const ct = await new Envelope({ keyring: keyring() }).encrypt('profile', { context: { domain: 'd1' } })
    expect(await new Envelope({ keyring: keyring() }).decryptString(ct)).toBe('profile')
    await admin.send(new RevokeGrantCommand({ KeyId: arn, GrantId: GrantId! }))
    const err = await new Envelope({ keyring: keyring() }).decrypt(ct).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect((err as KeyAccessDeniedError).keyId).toBe(arn)
    expect((err as Error).message).toMatch(/grant/)
  })

  it('a message under another key is refused in strict mode without a KMS call to that key', async () => {
    const a = await newKey()
    const b = await newKey()
    const ct = await new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: a }) }).encrypt(
      'x',
    )
    const strictB = new KmsKeyring({ client: admin, generatorKeyId: b })
    await expect(new Envelope({ keyring: strictB }).decrypt(ct)).rejects.toBeInstanceOf(InvalidKeyError)
    expect(strictB.stats().decrypt).toBe(0)
  })

  it('throttling and outages become KmsThrottledError / KmsUnavailableError and nothing is lost', async () => {
    const arn = await newKey()
    const ct = await new Envelope({
      keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }),
    }).encrypt('kept')
    kms.engine.faults.set({ operations: ['Decrypt'], error: 'ThrottlingException' })
    await expect(
      new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) }).decrypt(ct),
    ).rejects.toBeInstanceOf(KmsThrottledError)
    kms.engine.faults.set({ operations: ['Decrypt'], error: 'KMSInternalException' })
    await expect(
      new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) }).decrypt(ct),
    ).rejects.toBeInstanceOf(KmsUnavailableError)
    kms.engine.faults.clear()
    expect(
      await new Envelope({ keyring: new KmsKeyring({ client: admin, generatorKeyId: arn }) }).decryptString(
        ct,
      ),
    ).toBe('kept')
  })

  it('extra wrapping keys: a reader with only the second key decrypts', async () => {
    const primary = await newKey()
    const dr = await newKey()
    const ct = await new Envelope({
      keyring: new KmsKeyring({ client: admin, generatorKeyId: primary, additionalKeyIds: [dr] }),
    }).encrypt('replicated')
    await admin.send(new DisableKeyCommand({ KeyId: primary }))
    const reader = new KmsKeyring({ client: admin, generatorKeyId: dr })
    expect(await new Envelope({ keyring: reader }).decryptString(ct)).toBe('replicated')
  })
})
