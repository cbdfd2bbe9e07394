import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node'
import { CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsKeyring,
  LimitExceededError,
  MalformedCiphertextError,
  TruncatedCiphertextError,
  UnsupportedFormatError,
} from '@kms-envelope/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CommitmentPolicyError, EsdkReader } from '../src/index.js'
import { COMMIT, countCalls, LEGACY, LEGACY_SIGNED, SIGNED, type World, world } from './fixtures.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.kms.close())

const bytes = (n: number, seed = 7) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

describe('EsdkReader.decrypt', () => {
  it('reads ESDK messages of every suite family and several frame sizes, byte-exactly, with the context', async () => {
    const reader = new EsdkReader({ client: w.client, keyIds: [w.keyA] })
    for (const suiteId of [SIGNED, COMMIT, LEGACY, LEGACY_SIGNED]) {
      for (const frameLength of [1, 7, 64, 4096]) {
        for (const size of [0, 1, 63, 64, 65, 1000]) {
          const pt = bytes(size, frameLength)
          const context = { tenant: 'acme', purpose: `f${frameLength}` }
          const m = await w.esdkEncrypt(pt, { suiteId, frameLength, context })
          const r = await reader.decrypt(m, { expectedContext: { tenant: 'acme' } })
          expect(Buffer.from(r.plaintext).equals(pt)).toBe(true)
          expect(r.context).toEqual(context)
          expect(r.suite.id).toBe(suiteId)
          expect(r.frameLength).toBe(frameLength)
          expect(r.keyIds).toEqual([w.keyA])
          expect(r.kmsCalls.decrypt).toBe(1)
          // Signed suites carry the ESDK-reserved public key: reported, never part of the caller's context.
          expect(Object.keys(r.reservedContext)).toEqual(
            suiteId === SIGNED || suiteId === LEGACY_SIGNED ? ['aws-crypto-public-key'] : [],
          )
        }
      }
    }
  })

  it('refuses a wrong expected context before any KMS call', async () => {
    const m = await w.esdkEncrypt(bytes(10), { context: { tenant: 'acme' } })
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    await expect(reader.decrypt(m, { expectedContext: { tenant: 'globex' } })).rejects.toBeInstanceOf(
      EncryptionContextMismatchError,
    )
    const missing = await reader.decrypt(m, { expectedContext: { region: 'eu' } }).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(EncryptionContextMismatchError)
    expect((missing as EncryptionContextMismatchError).key).toBe('region')
    // The ESDK's reserved key is not part of the context a caller can expect.
    await expect(
      reader.decrypt(m, { expectedContext: { 'aws-crypto-public-key': 'x' } }),
    ).rejects.toBeInstanceOf(ConfigurationError)
    expect(calls.names).toEqual([])
    await reader.decrypt(m, { expectedContext: { tenant: 'acme' } })
    expect(calls.names).toEqual(['DecryptCommand'])
  })

  it('refuses a key the reader does not allow (strict and discovery) before any KMS call', async () => {
    const m = await w.esdkEncrypt(bytes(10), { keyId: w.keyB })
    const client = w.kms.client()
    const calls = countCalls(client)
    const strict = await new EsdkReader({ client, keyIds: [w.keyA] }).decrypt(m).catch((e: unknown) => e)
    expect(strict).toBeInstanceOf(InvalidKeyError)
    expect((strict as InvalidKeyError).reason).toBe('NOT_ALLOWED')
    expect((strict as InvalidKeyError).keyId).toBe(w.keyB)
    const other = new EsdkReader({ client, discovery: { accounts: ['444455556666'] } })
    await expect(other.decrypt(m)).rejects.toMatchObject({ code: 'ERR_INVALID_KEY', reason: 'NOT_ALLOWED' })
    expect(calls.names).toEqual([])
    const discovery = new EsdkReader({ client, discovery: { accounts: ['111122223333'] } })
    expect(Buffer.from((await discovery.decrypt(m)).plaintext).equals(bytes(10))).toBe(true)
    expect(calls.names).toEqual(['DecryptCommand'])
  })

  it('maps KMS refusals: access denied for another account, disabled key', async () => {
    const m = await w.esdkEncrypt(bytes(10), { keyId: w.keyB })
    await w.kms.engine.addAccessKey({
      principalArn: 'arn:aws:iam::444455556666:role/reader',
      accessKeyId: 'reader',
      secretAccessKey: 'reader-secret',
    })
    const outsider = w.kms.client({ accessKeyId: 'reader', secretAccessKey: 'reader-secret', maxAttempts: 1 })
    const denied = await new EsdkReader({
      client: outsider,
      keyIds: [w.keyB],
      principal: 'arn:aws:iam::444455556666:role/reader',
    })
      .decrypt(m)
      .catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(KeyAccessDeniedError)
    expect((denied as KeyAccessDeniedError).keyId).toBe(w.keyB)
    expect((denied as KeyAccessDeniedError).operation).toBe('Decrypt')
    expect((denied as KeyAccessDeniedError).principal).toBe('arn:aws:iam::444455556666:role/reader')
    expect((denied as Error).cause).toMatchObject({ name: 'AccessDeniedException' })

    const key = (await w.client.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    const m2 = await w.esdkEncrypt(bytes(10), { keyId: key, suiteId: COMMIT })
    await w.client.send(new DisableKeyCommand({ KeyId: key }))
    const disabled = await new EsdkReader({ client: w.client, keyIds: [key] })
      .decrypt(m2)
      .catch((e: unknown) => e)
    expect(disabled).toBeInstanceOf(KeyDisabledError)
    expect((disabled as KeyDisabledError).keyState).toBe('Disabled')
  })

  it('limits the number of wrapped data keys (default 3, configurable) before any KMS call', async () => {
    const keys: string[] = []
    for (let i = 0; i < 3; i++) keys.push((await w.client.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!)
    const m = await w.esdkEncrypt(bytes(5), { extraKeys: keys }) // 4 wrapped data keys
    const client = w.kms.client()
    const calls = countCalls(client)
    const tooMany = await new EsdkReader({ client, keyIds: [w.keyA] }).decrypt(m).catch((e: unknown) => e)
    expect(tooMany).toBeInstanceOf(LimitExceededError)
    expect((tooMany as Error).cause).toBeInstanceOf(Error) // the ESDK's own error, kept as cause
    const two = await w.esdkEncrypt(bytes(5), { extraKeys: [w.keyB] })
    await expect(
      new EsdkReader({ client, keyIds: [w.keyA], maxEncryptedDataKeys: 1 }).decrypt(two),
    ).rejects.toMatchObject({ code: 'ERR_LIMIT_EXCEEDED' })
    expect(calls.names).toEqual([])
    const r = await new EsdkReader({ client, keyIds: [w.keyB], maxEncryptedDataKeys: 2 }).decrypt(two)
    expect(r.keyIds).toEqual([w.keyA, w.keyB])
    const four = await new EsdkReader({ client, keyIds: [keys[2]!], maxEncryptedDataKeys: 4 }).decrypt(m)
    expect(four.keyIds).toEqual([w.keyA, ...keys])
    expect(calls.names).toEqual(['DecryptCommand', 'DecryptCommand'])
  })

  it('commitment policy: legacy messages are read by default, refused under REQUIRE_ENCRYPT_REQUIRE_DECRYPT', async () => {
    const legacy = await w.esdkEncrypt(bytes(5), { suiteId: LEGACY })
    const client = w.kms.client()
    const calls = countCalls(client)
    const strictCommit = new EsdkReader({
      client,
      keyIds: [w.keyA],
      commitmentPolicy: 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT',
    })
    const err = await strictCommit.decrypt(legacy).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CommitmentPolicyError)
    expect((err as CommitmentPolicyError).suite).toBe('ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256')
    expect(calls.names).toEqual([])
    const committed = await w.esdkEncrypt(bytes(5), { suiteId: COMMIT })
    expect((await strictCommit.decrypt(committed)).suite.committing).toBe(true)
    expect((await new EsdkReader({ client, keyIds: [w.keyA] }).decrypt(legacy)).suite.committing).toBe(false)
  })

  it('refuses kms-envelope messages, garbage and non-bytes with typed errors', async () => {
    const reader = new EsdkReader({ client: w.client, keyIds: [w.keyA] })
    const envelope = new Envelope({ keyring: new KmsKeyring({ client: w.client, generatorKeyId: w.keyA }) })
    const ours = await reader.decrypt(await envelope.encrypt('hi')).catch((e: unknown) => e)
    expect(ours).toBeInstanceOf(UnsupportedFormatError)
    expect((ours as UnsupportedFormatError).remedy).toMatch(/Envelope#decrypt/)
    const garbage = await reader.decrypt(Buffer.from('not encrypted at all')).catch((e: unknown) => e)
    expect(garbage).toBeInstanceOf(MalformedCiphertextError)
    expect((garbage as Error).message).toMatch(/^Not a valid AWS Encryption SDK message/)
    expect((garbage as MalformedCiphertextError).remedy).not.toMatch(/encrypt\(\)/)
    await expect(reader.decrypt(Uint8Array.of(0x01, 0x80, 0x12, 0x34, 0))).rejects.toBeInstanceOf(
      UnsupportedFormatError,
    )
    const notBytes = await reader.decrypt('x' as unknown as Uint8Array).catch((e: unknown) => e)
    expect(notBytes).toBeInstanceOf(MalformedCiphertextError)
    // Named as an ESDK message, with the ESDK remedy (not core's "bytes that encrypt() produced").
    expect((notBytes as Error).message).toMatch(/^Not a valid AWS Encryption SDK message/)
    expect((notBytes as MalformedCiphertextError).remedy).not.toMatch(/encrypt\(\)/)
  })

  it('refuses messages wrapped by a raw AES keyring (not KMS) before any KMS call', async () => {
    const keyring = new RawAesKeyringNode({
      keyName: 'app-key',
      keyNamespace: 'local',
      unencryptedMasterKey: new Uint8Array(32).fill(7),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    })
    const { result } = await buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT).encrypt(
      keyring,
      'hi',
    )
    const client = w.kms.client()
    const calls = countCalls(client)
    const err = await new EsdkReader({ client, keyIds: [w.keyA] }).decrypt(result).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).message).toMatch(/raw AES\/RSA keyrings/)
    expect(calls.names).toEqual([])
  })

  it('a message cut inside its first bytes is truncated, not malformed', async () => {
    const reader = new EsdkReader({ client: w.client, keyIds: [w.keyA] })
    for (const head of [[], [0x01], [0x01, 0x80], [0x01, 0x80, 0x04], [0x02], [0x02, 0x05]]) {
      await expect(reader.decrypt(Uint8Array.from(head))).rejects.toBeInstanceOf(TruncatedCiphertextError)
    }
  })

  it('clientForRegion picks the client by the key ARN region; no client there is a configuration error', async () => {
    const m = await w.esdkEncrypt(bytes(10), { suiteId: COMMIT })
    const asked: string[] = []
    const ok = new EsdkReader({
      clientForRegion: (region) => {
        asked.push(region)
        return region === w.kms.region ? w.client : undefined
      },
      keyIds: [w.keyA],
    })
    expect(Buffer.from((await ok.decrypt(m)).plaintext).equals(bytes(10))).toBe(true)
    expect(asked).toEqual([w.kms.region])
    const none = new EsdkReader({ clientForRegion: () => undefined, keyIds: [w.keyA] })
    const err = await none.decrypt(m).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigurationError)
    expect((err as Error).message).toContain(w.kms.region)
  })

  it('refuses unsafe or inconsistent configurations', () => {
    const c = w.client
    expect(() => new EsdkReader({ keyIds: [w.keyA] })).toThrow(ConfigurationError)
    expect(() => new EsdkReader({ client: c })).toThrow(ConfigurationError)
    expect(
      () => new EsdkReader({ client: c, keyIds: [w.keyA], discovery: { accounts: ['111122223333'] } }),
    ).toThrow(ConfigurationError)
    expect(() => new EsdkReader({ client: c, keyIds: [] })).toThrow(ConfigurationError)
    expect(() => new EsdkReader({ client: c, keyIds: ['alias/app'] })).toThrow(/key ARNs/)
    expect(() => new EsdkReader({ client: c, discovery: { accounts: [] } })).toThrow(ConfigurationError)
    expect(() => new EsdkReader({ client: c, discovery: { accounts: ['*'] } })).toThrow(ConfigurationError)
    expect(() => new EsdkReader({ client: c, keyIds: [w.keyA], maxEncryptedDataKeys: 0 })).toThrow(
      ConfigurationError,
    )
    expect(
      () =>
        new EsdkReader({
          client: c,
          keyIds: [w.keyA],
          commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' as 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
        }),
    ).toThrow(ConfigurationError)
  })
})
