// Scope keys against the embedded local KMS (real KMS semantics: authenticated blobs with the encryption
// context, key states, grants, ReEncrypt), through the real @aws-sdk/client-kms: tamper in the file store,
// key switch to a customer managed key used through a grant, revocation, disabled keys, KMS call counts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  type KMSClient,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms'
import {
  Envelope,
  KeyAccessDeniedError,
  KeyDestroyedError,
  KeyDisabledError,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FileKeyStore, KeyHierarchy, MemoryKeyStore } from '../../packages/core/src/scope/index.js'

const CUSTOMER = '111122223333'
const SERVICE = '444455556666'
const SERVICE_ROLE = `arn:aws:iam::${SERVICE}:role/connect-service`
const HOUR = 3_600_000

let kms: LocalKms
let customer: KMSClient
let service: KMSClient
let serviceRoot: string
const dirs: string[] = []

/** Counts the KMS operations a client sends (a wrapper, the client itself is real). */
function counting(client: KMSClient): { client: KMSClient; ops: string[] } {
  const ops: string[] = []
  const wrapped = {
    send: (command: object) => {
      ops.push(command.constructor.name.replace(/Command$/, ''))
      return (client.send as (c: object) => Promise<unknown>)(command)
    },
  } as unknown as KMSClient
  return { client: wrapped, ops }
}

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
          principals: [{ arn: SERVICE_ROLE, accessKeyId: 'service', secretAccessKey: 'service-secret' }],
        },
      ],
    },
  })
  customer = kms.client({ maxAttempts: 1 })
  service = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
  serviceRoot = (await service.send(new CreateKeyCommand({ Description: 'service-owned root' }))).KeyMetadata!
    .Arn!
})
afterAll(async () => {
  await kms?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kenv-lk-'))
  dirs.push(d)
  return d
}

describe('scope keys on the local KMS', () => {
  it('round trip with few KMS calls; a root-key rotation changes nothing for readers', async () => {
    const { client, ops } = counting(service)
    const hierarchy = new KeyHierarchy({
      kms: client,
      rootKeyId: serviceRoot,
      store: new MemoryKeyStore(),
      keyWindowMs: HOUR,
    })
    const writer = new Envelope({ keyring: hierarchy.keyring({ contextKey: 'instance' }) })
    const cts = []
    for (let i = 0; i < 200; i++)
      cts.push(await writer.encrypt(`r${i}`, { context: { instance: `i-${i % 4}` } }))
    expect(ops.filter((o) => o === 'GenerateDataKey')).toHaveLength(4)
    await service.send(new RotateKeyOnDemandCommand({ KeyId: serviceRoot }))
    const reader = new Envelope({ keyring: hierarchy.keyring({ contextKey: 'instance' }) })
    for (const [i, ct] of cts.entries()) expect(await reader.decryptString(ct)).toBe(`r${i}`)
    expect(ops.filter((o) => o === 'Decrypt')).toHaveLength(4)
    expect(ops).toHaveLength(8)
  })

  it('tamper: a wrapped key file copied over another scope/version in the FileKeyStore is refused by KMS', async () => {
    const directory = tempDir()
    let now = Date.parse('2026-05-01T08:30:00Z')
    const hierarchy = new KeyHierarchy({
      kms: service,
      rootKeyId: serviceRoot,
      store: new FileKeyStore({ directory }),
      keyWindowMs: HOUR,
      clock: () => now,
    })
    const victim = await hierarchy.keyring('victim').generateDataKey({})
    await hierarchy.keyring('attacker').generateDataKey({})
    now += HOUR
    const victim2 = await hierarchy.keyring('victim').generateDataKey({})
    const file = (scope: string, v: number) =>
      join(
        directory,
        'scopes',
        Buffer.from(scope).toString('base64url'),
        'versions',
        `${String(v).padStart(10, '0')}.json`,
      )
    const wrappedOf = (scope: string, v: number) =>
      JSON.parse(readFileSync(file(scope, v), 'utf8')).wrappedKey
    // Another scope's wrapped key, moved into victim v1 (the record otherwise untouched).
    const original = readFileSync(file('victim', 1), 'utf8')
    writeFileSync(
      file('victim', 1),
      JSON.stringify({ ...JSON.parse(original), wrappedKey: wrappedOf('attacker', 1) }),
    )
    const err = await hierarchy
      .keyring('victim')
      .decryptDataKey(victim.encryptedDataKeys, {})
      .catch((e) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect(err.cause?.name).toBe('InvalidCiphertextException')
    // The same scope's other version moved into v1.
    writeFileSync(
      file('victim', 1),
      JSON.stringify({ ...JSON.parse(original), wrappedKey: wrappedOf('victim', 2) }),
    )
    await expect(
      hierarchy.keyring('victim').decryptDataKey(victim.encryptedDataKeys, {}),
    ).rejects.toBeInstanceOf(TamperedCiphertextError)
    // Restored, it works again; version 2 was never affected.
    writeFileSync(file('victim', 1), original)
    expect(
      (await hierarchy.keyring('victim').decryptDataKey(victim.encryptedDataKeys, {})).plaintextKey,
    ).toHaveLength(32)
    expect(
      (await hierarchy.keyring('victim').decryptDataKey(victim2.encryptedDataKeys, {})).plaintextKey,
    ).toHaveLength(32)
  })

  it('key switch to a customer managed key (grant), then the customer revokes: unreadable at once', async () => {
    const store = new MemoryKeyStore()
    let now = Date.parse('2026-05-01T00:10:00Z')
    const { client, ops } = counting(service)
    const trusted: string[] = []
    const hierarchy = new KeyHierarchy({
      kms: client,
      rootKeyId: serviceRoot,
      store,
      keyWindowMs: HOUR,
      clock: () => now,
      trustedKeyIds: trusted,
    })
    const keys = []
    for (let h = 0; h < 5; h++) {
      keys.push(await hierarchy.keyring('cust-1').generateDataKey({}))
      now += HOUR
    }
    // The customer creates a CMK and grants the service what the scope keys need.
    const cmk = (await customer.send(new CreateKeyCommand({ Description: 'customer CMK' }))).KeyMetadata!.Arn!
    trusted.push(cmk) // the service's configuration of this customer's key
    const { GrantId } = await customer.send(
      new CreateGrantCommand({
        KeyId: cmk,
        GranteePrincipal: SERVICE_ROLE,
        Operations: [
          'DescribeKey',
          'Decrypt',
          'ReEncryptTo',
          'GenerateDataKey',
          'GenerateDataKeyWithoutPlaintext',
        ],
      }),
    )
    ops.length = 0
    const result = await hierarchy.rewrap('cust-1', cmk)
    expect(result.rewrapped).toEqual([1, 2, 3, 4, 5])
    expect(ops).toEqual(['DescribeKey', ...Array(5).fill('ReEncrypt')])
    // Reads work under the customer key; new versions are created under it.
    const envelope = new Envelope({ keyring: hierarchy.keyring('cust-1') })
    const ct = await envelope.encrypt('call recording summary')
    expect((await hierarchy.describeVersion('cust-1', 6)).wrappingKeyId).toBe(cmk)
    expect(await envelope.decryptString(ct)).toBe('call recording summary')
    for (const k of keys) {
      expect(
        (await hierarchy.keyring('cust-1').decryptDataKey(k.encryptedDataKeys, {})).plaintextKey,
      ).toEqual(k.plaintextKey)
    }
    // The customer revokes the grant: after purge (or the cache TTL) the service cannot read anything.
    await customer.send(new RevokeGrantCommand({ KeyId: cmk, GrantId: GrantId! }))
    envelope.purge()
    const err = await envelope.decrypt(ct).catch((e) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect(err.keyId).toBe(cmk)
  })

  it('a disabled root key: KeyDisabledError on new keys; enabled again, work resumes', async () => {
    const root = (await service.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const hierarchy = new KeyHierarchy({ kms: service, rootKeyId: root, store: new MemoryKeyStore() })
    await service.send(new DisableKeyCommand({ KeyId: root }))
    await expect(hierarchy.keyring('s').generateDataKey({})).rejects.toBeInstanceOf(KeyDisabledError)
    await service.send(new EnableKeyCommand({ KeyId: root }))
    expect((await hierarchy.keyring('s').generateDataKey({})).plaintextKey).toHaveLength(32)
  })

  it('destroyed versions fail even for a principal with full KMS access to the root key', async () => {
    const store = new MemoryKeyStore()
    const hierarchy = new KeyHierarchy({ kms: service, rootKeyId: serviceRoot, store, actor: 'svc' })
    const envelope = new Envelope({ keyring: hierarchy.keyring('gone') })
    const ct = await envelope.encrypt('pii')
    await hierarchy.destroy('gone', 1, { actor: 'retention-job' })
    envelope.purge()
    expect(envelope.stats().entries).toBe(0)
    const err = await envelope.decrypt(ct).catch((e) => e)
    expect(err).toBeInstanceOf(KeyDestroyedError)
    expect(err.destroyedBy).toBe('retention-job')
  })
})
