import { randomBytes } from 'node:crypto'
import { DisableKeyCommand, EnableKeyCommand } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  MemoryKeyStore,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConnectDataProtection, describeProtection } from '../src/index.js'
import { createKey, type Fixture, fixture, kmsContexts } from './setup.js'

describe('voiceprints: under the service-owned key', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(() => f.close())

  it('round-trips, under the service key, with domain and speaker in the KMS context', async () => {
    const voiceprint = randomBytes(2048)
    const ct = await f.connect.encryptVoiceprint('domain-1', 'speaker-7', voiceprint)
    expect(
      Buffer.from(await f.connect.decryptVoiceprint('domain-1', 'speaker-7', ct)).equals(voiceprint),
    ).toBe(true)
    expect(describeProtection(ct).keys).toEqual([{ type: 'aws-kms', keyId: f.serviceKeyArn }])
    expect(f.connect.keys.serviceKey).toMatchObject({ arn: f.serviceKeyArn, kind: 'service-owned' })
    expect(kmsContexts(f, 'GenerateDataKey')).toEqual([
      {
        'connect:data-class': 'voiceprint',
        'connect:voice-id-domain': 'domain-1',
        'connect:speaker': 'speaker-7',
      },
    ])
  })

  it("refuses another speaker's or domain's voiceprint before any KMS call", async () => {
    const ct = await f.connect.encryptVoiceprint('domain-1', 'speaker-7', randomBytes(64))
    f.connect.purge()
    const before = f.calls()
    for (const [domain, speaker, key] of [
      ['domain-1', 'speaker-8', 'connect:speaker'],
      ['domain-2', 'speaker-7', 'connect:voice-id-domain'],
    ] as const) {
      const err = await f.connect.decryptVoiceprint(domain, speaker, ct).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EncryptionContextMismatchError)
      expect((err as EncryptionContextMismatchError).key).toBe(key)
    }
    expect(f.calls()).toBe(before)
  })

  it('re-reading a voiceprint is served from the cache', async () => {
    const ct = await f.connect.encryptVoiceprint('domain-1', 'speaker-7', randomBytes(64))
    f.connect.purge()
    for (let i = 0; i < 50; i++) await f.connect.decryptVoiceprint('domain-1', 'speaker-7', ct)
    expect(f.calls('Decrypt')).toBe(1)
    expect(f.connect.stats().voiceprints.kms).toMatchObject({ generateDataKey: 1, decrypt: 1 })
  })

  it('a service key disabled after start → KeyDisabledError; enabled again → works', async () => {
    const ct = await f.connect.encryptVoiceprint('domain-1', 'speaker-7', randomBytes(64))
    f.connect.purge()
    await f.client.send(new DisableKeyCommand({ KeyId: f.serviceKeyArn }))
    const enc = await f.connect
      .encryptVoiceprint('domain-1', 'speaker-8', randomBytes(64))
      .catch((e: unknown) => e)
    expect(enc).toBeInstanceOf(KeyDisabledError)
    expect((enc as KeyDisabledError).keyId).toBe(f.serviceKeyArn)
    await expect(f.connect.decryptVoiceprint('domain-1', 'speaker-7', ct)).rejects.toBeInstanceOf(
      KeyDisabledError,
    )
    await f.client.send(new EnableKeyCommand({ KeyId: f.serviceKeyArn }))
    expect((await f.connect.decryptVoiceprint('domain-1', 'speaker-7', ct)).length).toBe(64)
  })

  it('refuses non-bytes', async () => {
    await expect(
      f.connect.encryptVoiceprint('domain-1', 'speaker-7', 'not bytes' as unknown as Uint8Array),
    ).rejects.toBeInstanceOf(ConfigurationError)
  })
})

describe('ConnectDataProtection.create validates the keys', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(() => f.close())

  const create = (serviceKeyArn: string, client = f.client) =>
    ConnectDataProtection.create({ kms: client, serviceKeyArn, store: new MemoryKeyStore() })

  it('a disabled service key → KeyDisabledError', async () => {
    await f.client.send(new DisableKeyCommand({ KeyId: f.serviceKeyArn }))
    const err = await create(f.serviceKeyArn).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect((err as KeyDisabledError).keyState).toBe('Disabled')
  })

  it('an asymmetric key → InvalidKeyError KEY_SPEC', async () => {
    const rsa = await createKey(f.client, { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })
    const err = await create(rsa).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('KEY_SPEC')
  })

  it('a missing key → KeyNotFoundError; not an ARN → ConfigurationError', async () => {
    const missing = f.serviceKeyArn.replace(/key\/.*$/, 'key/00000000-0000-4000-8000-000000000000')
    await expect(create(missing)).rejects.toBeInstanceOf(KeyNotFoundError)
    await expect(create('alias/connect')).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('a role the key policy does not allow → KeyAccessDeniedError', async () => {
    const service = 'arn:aws:iam::111122223333:role/connect-service'
    // Only the Connect service role may use the key (no statement for the account or other roles).
    const policy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: service }, Action: 'kms:*', Resource: '*' }],
    }
    const key = await createKey(f.client, { Policy: JSON.stringify(policy) })
    await f.kms.engine.addAccessKey({
      principalArn: service,
      accessKeyId: 'svc',
      secretAccessKey: 'svc-secret',
    })
    await f.kms.engine.addAccessKey({
      principalArn: 'arn:aws:iam::111122223333:role/intruder',
      accessKeyId: 'intruder',
      secretAccessKey: 'intruder-secret',
    })
    const ok = await create(
      key,
      f.kms.client({ accessKeyId: 'svc', secretAccessKey: 'svc-secret', maxAttempts: 1 }),
    )
    expect(ok.keys.serviceKey.arn).toBe(key)
    const intruder = f.kms.client({
      accessKeyId: 'intruder',
      secretAccessKey: 'intruder-secret',
      maxAttempts: 1,
    })
    await expect(create(key, intruder)).rejects.toBeInstanceOf(KeyAccessDeniedError)
  })

  it('refuses a missing store or client', async () => {
    await expect(
      ConnectDataProtection.create({ kms: f.client, serviceKeyArn: f.serviceKeyArn } as never),
    ).rejects.toBeInstanceOf(ConfigurationError)
    await expect(
      ConnectDataProtection.create({ serviceKeyArn: f.serviceKeyArn, store: new MemoryKeyStore() } as never),
    ).rejects.toBeInstanceOf(ConfigurationError)
  })
})
