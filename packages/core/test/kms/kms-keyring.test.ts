import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import {
  DecryptCommand,
  DescribeKeyCommand,
  DisabledException,
  EncryptCommand,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSServiceException,
} from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  type EncryptedDataKey,
  Envelope,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsEnvelopeError,
  KmsKeyring,
  KmsThrottledError,
  TamperedCiphertextError,
  WrappingType,
} from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { TestKeyring } from '../helpers/test-keyring.js'

const A = 'arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-1111-2222-3333-444444444444'
const B = 'arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef'
const C = 'arn:aws:kms:us-east-1:444455556666:key/cccccccc-1111-2222-3333-444444444444'
const CN = 'arn:aws-cn:kms:cn-north-1:111122223333:key/dddddddd-1111-2222-3333-444444444444'
const ALIAS = 'arn:aws:kms:us-east-1:111122223333:alias/app'
const $metadata = { httpStatusCode: 400 }

const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const kms = mockClient(client)

const edk = (keyId: string, blob = [1, 2, 3]): EncryptedDataKey => ({
  type: WrappingType.AwsKms,
  keyId,
  blob: Uint8Array.from(blob),
})

function denied(): KMSServiceException {
  return new KMSServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata,
    message: 'denied',
  })
}

beforeEach(() => kms.reset())

describe('KmsKeyring.generateDataKey', () => {
  it('sends GenerateDataKey with KeyId, AES_256, the context and grant tokens; EDK names the returned ARN', async () => {
    const plaintext = randomBytes(32)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: Uint8Array.from(plaintext), CiphertextBlob: Uint8Array.of(9, 9), KeyId: A })
    const keyring = new KmsKeyring({ client, generatorKeyId: A, grantTokens: ['gt-1', 'gt-2'] })
    const out = await keyring.generateDataKey({ tenant: 'acme', purpose: 'pii' })
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input).toEqual({
      KeyId: A,
      KeySpec: 'AES_256',
      EncryptionContext: { tenant: 'acme', purpose: 'pii' },
      GrantTokens: ['gt-1', 'gt-2'],
    })
    expect(Buffer.from(out.plaintextKey).equals(plaintext)).toBe(true)
    expect(out.encryptedDataKeys).toEqual([
      { type: WrappingType.AwsKms, keyId: A, blob: Uint8Array.of(9, 9) },
    ])
    expect(keyring.stats()).toEqual({ generateDataKey: 1, encrypt: 0, decrypt: 0, describeKey: 0 })
  })

  it('an alias generator: the EDK carries the key ARN KMS returned, and no GrantTokens field when none given', async () => {
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: Uint8Array.of(1), KeyId: A })
    const out = await new KmsKeyring({ client, generatorKeyId: ALIAS }).generateDataKey({})
    expect(out.encryptedDataKeys[0]!.keyId).toBe(A)
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input).toEqual({
      KeyId: ALIAS,
      KeySpec: 'AES_256',
      EncryptionContext: {},
    })
  })

  it('additional keys: Encrypt the same plaintext under each, with the same context and grants', async () => {
    const plaintext = randomBytes(32)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: Uint8Array.from(plaintext), CiphertextBlob: Uint8Array.of(1), KeyId: A })
    kms.on(EncryptCommand, { KeyId: B }).resolves({ CiphertextBlob: Uint8Array.of(2), KeyId: B })
    kms.on(EncryptCommand, { KeyId: C }).resolves({ CiphertextBlob: Uint8Array.of(3), KeyId: C })
    const keyring = new KmsKeyring({
      client,
      generatorKeyId: A,
      additionalKeyIds: [B, C],
      grantTokens: ['gt'],
    })
    const out = await keyring.generateDataKey({ tenant: 'acme' })
    const encrypts = kms.commandCalls(EncryptCommand).map((c) => c.args[0].input)
    expect(encrypts).toHaveLength(2)
    for (const [i, keyId] of [B, C].entries()) {
      expect(encrypts[i]).toEqual({
        KeyId: keyId,
        Plaintext: expect.any(Uint8Array),
        EncryptionContext: { tenant: 'acme' },
        GrantTokens: ['gt'],
      })
      expect(Buffer.from(encrypts[i]!.Plaintext!).equals(plaintext)).toBe(true)
    }
    expect(out.encryptedDataKeys.map((e) => [e.keyId, [...e.blob]])).toEqual([
      [A, [1]],
      [B, [2]],
      [C, [3]],
    ])
    expect(keyring.stats()).toMatchObject({ generateDataKey: 1, encrypt: 2 })
  })

  it('per-Region clients: a key ARN in another Region goes to that Region’s client', async () => {
    const west = new KMSClient({
      region: 'us-west-2',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
    const westKms = mockClient(west)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: Uint8Array.of(1), KeyId: A })
    westKms.on(EncryptCommand).resolves({ CiphertextBlob: Uint8Array.of(2), KeyId: B })
    await new KmsKeyring({
      client,
      clients: { 'us-west-2': west },
      generatorKeyId: A,
      additionalKeyIds: [B],
    }).generateDataKey({})
    expect(kms.commandCalls(EncryptCommand)).toHaveLength(0)
    expect(westKms.commandCalls(EncryptCommand)).toHaveLength(1)
    westKms.restore()
  })

  it('a failed additional Encrypt zeroizes the data key and maps the error', async () => {
    const plaintext = new Uint8Array(32).fill(7)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: plaintext, CiphertextBlob: Uint8Array.of(1), KeyId: A })
    kms.on(EncryptCommand).rejects(new DisabledException({ message: 'disabled', $metadata }))
    const err = await new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B] })
      .generateDataKey({})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).toMatchObject({ keyId: B, keyState: 'Disabled' })
    expect(plaintext.every((b) => b === 0)).toBe(true)
  })

  it('one failed Encrypt: the data key is wiped only after every other Encrypt finished with it', async () => {
    const plaintext = new Uint8Array(32).fill(7)
    let seenBySlowEncrypt: number[] = []
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: plaintext, CiphertextBlob: Uint8Array.of(1), KeyId: A })
    kms.on(EncryptCommand, { KeyId: B }).rejects(denied())
    kms.on(EncryptCommand, { KeyId: C }).callsFake(async (input: { Plaintext: Uint8Array }) => {
      await new Promise((r) => setTimeout(r, 20))
      seenBySlowEncrypt = [...input.Plaintext]
      return { CiphertextBlob: Uint8Array.of(3), KeyId: C }
    })
    const err = await new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B, C] })
      .generateDataKey({})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect(seenBySlowEncrypt).toEqual(new Array(32).fill(7))
    expect(plaintext.every((b) => b === 0)).toBe(true)
  })

  it('GenerateDataKey failures are mapped with the KMS exception as cause', async () => {
    const cause = denied()
    kms.on(GenerateDataKeyCommand).rejects(cause)
    const err = await new KmsKeyring({ client, generatorKeyId: A })
      .generateDataKey({})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect(err).toMatchObject({ keyId: A, operation: 'GenerateDataKey' })
    expect((err as Error).cause).toBe(cause)
  })

  it.each([
    ['a short data key', { Plaintext: new Uint8Array(16), CiphertextBlob: Uint8Array.of(1), KeyId: A }],
    ['no blob', { Plaintext: new Uint8Array(32), KeyId: A }],
    ['no key ARN', { Plaintext: new Uint8Array(32), CiphertextBlob: Uint8Array.of(1) }],
    ['another key', { Plaintext: new Uint8Array(32).fill(5), CiphertextBlob: Uint8Array.of(1), KeyId: C }],
  ])('refuses a GenerateDataKey response with %s and wipes the plaintext', async (_label, response) => {
    kms.on(GenerateDataKeyCommand).resolves(response)
    const err = await new KmsKeyring({ client, generatorKeyId: A })
      .generateDataKey({})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KmsEnvelopeError)
    expect((err as KmsEnvelopeError).code).toBe('ERR_KMS_RESPONSE')
    if (response.Plaintext) expect(response.Plaintext.every((b) => b === 0)).toBe(true)
  })

  it('a decrypt-only keyring refuses to generate', async () => {
    const keyring = new KmsKeyring({ client, decrypt: { mode: 'discovery', accounts: ['111122223333'] } })
    await expect(keyring.generateDataKey({})).rejects.toBeInstanceOf(ConfigurationError)
  })
})

describe('KmsKeyring.decryptDataKey', () => {
  it('strict: sends Decrypt with CiphertextBlob, context, grants and KeyId = the EDK key ARN', async () => {
    const plaintext = randomBytes(32)
    kms.on(DecryptCommand).resolves({ Plaintext: Uint8Array.from(plaintext), KeyId: A })
    const keyring = new KmsKeyring({ client, generatorKeyId: A, grantTokens: ['gt'] })
    const wrapped = edk(A, [4, 5, 6])
    const out = await keyring.decryptDataKey([wrapped], { tenant: 'acme' })
    expect(kms.commandCalls(DecryptCommand)[0]!.args[0].input).toEqual({
      CiphertextBlob: Uint8Array.of(4, 5, 6),
      EncryptionContext: { tenant: 'acme' },
      GrantTokens: ['gt'],
      KeyId: A,
    })
    expect(Buffer.from(out.plaintextKey).equals(plaintext)).toBe(true)
    expect(out.encryptedDataKey).toBe(wrapped)
  })

  it('strict: skips wrapped keys under other keys and non-KMS wrappings without calling KMS for them', async () => {
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: B })
    const keyring = new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B] })
    const scope: EncryptedDataKey = { type: WrappingType.ScopeKey, keyId: A, blob: Uint8Array.of(1) }
    const out = await keyring.decryptDataKey([scope, edk(C), edk(B)], {})
    expect(out.encryptedDataKey.keyId).toBe(B)
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([B])
  })

  it('strict: decrypt.keyIds replaces the default allow-list', async () => {
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: C })
    const keyring = new KmsKeyring({ client, generatorKeyId: A, decrypt: { mode: 'strict', keyIds: [C] } })
    await keyring.decryptDataKey([edk(A), edk(C)], {})
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([C])
  })

  it('strict with an alias: resolved once with DescribeKey, then matched by ARN', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'x', Arn: A } })
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: A })
    const keyring = new KmsKeyring({ client, generatorKeyId: ALIAS })
    await keyring.decryptDataKey([edk(A)], {})
    await keyring.decryptDataKey([edk(A)], {})
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(1)
    expect(kms.commandCalls(DescribeKeyCommand)[0]!.args[0].input).toEqual({ KeyId: ALIAS })
    expect(keyring.stats()).toMatchObject({ describeKey: 1, decrypt: 2 })
  })

  it('strict with an alias: a failed resolution is mapped and retried on the next decrypt', async () => {
    kms
      .on(DescribeKeyCommand)
      .rejectsOnce(denied())
      .resolves({ KeyMetadata: { KeyId: 'x', Arn: A } })
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: A })
    const keyring = new KmsKeyring({ client, decrypt: { mode: 'strict', keyIds: [ALIAS] } })
    await expect(keyring.decryptDataKey([edk(A)], {})).rejects.toMatchObject({
      code: 'ERR_KEY_ACCESS_DENIED',
      operation: 'DescribeKey',
    })
    await expect(keyring.decryptDataKey([edk(A)], {})).resolves.toMatchObject({
      encryptedDataKey: { keyId: A },
    })
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(2)
  })

  it('every per-Region client is checked for a secure endpoint before the first call', async () => {
    const insecure = new KMSClient({ region: 'us-west-2', endpoint: 'http://kms.example.com' })
    const keyring = new KmsKeyring({ client, clients: { 'us-west-2': insecure }, generatorKeyId: A })
    await expect(keyring.decryptDataKey([edk(A)], {})).rejects.toBeInstanceOf(ConfigurationError)
    expect(kms.calls()).toHaveLength(0)
  })

  it('no allowed wrapped key → InvalidKeyError NOT_ALLOWED listing both sides, no KMS call', async () => {
    const keyring = new KmsKeyring({ client, generatorKeyId: A })
    const err = await keyring.decryptDataKey([edk(B), edk(C)], {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('NOT_ALLOWED')
    expect((err as Error).message).toContain(B)
    expect((err as Error).message).toContain(C)
    expect((err as Error).message).toContain(A)
    expect(kms.calls()).toHaveLength(0)
    expect(keyring.stats().decrypt).toBe(0)
  })

  it('discovery: only key ARNs of allowed accounts in the partition', async () => {
    kms
      .on(DecryptCommand)
      .callsFake((input: { KeyId: string }) => ({ Plaintext: new Uint8Array(32), KeyId: input.KeyId }))
    kms.on(DecryptCommand, { KeyId: A }).rejects(denied())
    const keyring = new KmsKeyring({ client, decrypt: { mode: 'discovery', accounts: ['111122223333'] } })
    const out = await keyring.decryptDataKey([edk(C), edk(CN), edk(ALIAS), edk(A), edk(B)], {})
    // C: other account; CN: other partition; ALIAS: not a key ARN; A: denied; B: used.
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([A, B])
    expect(out.encryptedDataKey.keyId).toBe(B)
  })

  it('discovery in aws-cn', async () => {
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: CN })
    const keyring = new KmsKeyring({
      client,
      decrypt: { mode: 'discovery', accounts: ['111122223333'], partition: 'aws-cn' },
    })
    await keyring.decryptDataKey([edk(A), edk(CN)], {})
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([CN])
  })

  it('tries the next wrapped key on failure (primary disabled, DR key works)', async () => {
    kms.on(DecryptCommand, { KeyId: A }).rejects(new DisabledException({ message: 'd', $metadata }))
    kms.on(DecryptCommand, { KeyId: B }).resolves({ Plaintext: new Uint8Array(32), KeyId: B })
    const out = await new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B] }).decryptDataKey(
      [edk(A), edk(B)],
      {},
    )
    expect(out.encryptedDataKey.keyId).toBe(B)
  })

  it('all fail: the transient error wins (a retry may succeed), else the first key’s error', async () => {
    const keyring = new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B] })
    kms.on(DecryptCommand, { KeyId: A }).rejects(new DisabledException({ message: 'd', $metadata }))
    kms
      .on(DecryptCommand, { KeyId: B })
      .rejects(
        new KMSServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata, message: 't' }),
      )
    await expect(keyring.decryptDataKey([edk(A), edk(B)], {})).rejects.toBeInstanceOf(KmsThrottledError)
    kms.reset()
    kms.on(DecryptCommand, { KeyId: A }).rejects(new DisabledException({ message: 'd', $metadata }))
    kms.on(DecryptCommand, { KeyId: B }).rejects(denied())
    const err = await keyring.decryptDataKey([edk(A), edk(B)], {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect((err as Error).cause).toBeInstanceOf(DisabledException)
  })

  it('InvalidCiphertextException → TamperedCiphertextError (wrong context or blob)', async () => {
    kms.on(DecryptCommand).rejects(new InvalidCiphertextException({ message: '', $metadata }))
    const err = await new KmsKeyring({ client, generatorKeyId: A })
      .decryptDataKey([edk(A)], { t: 'x' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect((err as Error).message).toMatch(/encryption context does not match/)
  })

  it('IncorrectKeyException → InvalidKeyError INCORRECT_KEY', async () => {
    kms.on(DecryptCommand).rejects(new IncorrectKeyException({ message: '', $metadata }))
    const err = await new KmsKeyring({ client, generatorKeyId: A })
      .decryptDataKey([edk(A)], {})
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ reason: 'INCORRECT_KEY', keyId: A })
  })

  it('postconditions: KMS must use the named key and return 32 bytes (plaintext wiped otherwise)', async () => {
    const keyring = new KmsKeyring({ client, generatorKeyId: A })
    const wrongKey = new Uint8Array(32).fill(3)
    kms.on(DecryptCommand).resolves({ Plaintext: wrongKey, KeyId: C })
    await expect(keyring.decryptDataKey([edk(A)], {})).rejects.toMatchObject({ reason: 'INCORRECT_KEY' })
    expect(wrongKey.every((b) => b === 0)).toBe(true)
    const short = new Uint8Array(31).fill(3)
    kms.on(DecryptCommand).resolves({ Plaintext: short, KeyId: A })
    await expect(keyring.decryptDataKey([edk(A)], {})).rejects.toBeInstanceOf(TamperedCiphertextError)
    expect(short.every((b) => b === 0)).toBe(true)
  })
})

describe('KmsKeyring configuration', () => {
  it('partition differs for different key configurations and matches for equal ones', () => {
    const p = (o: ConstructorParameters<typeof KmsKeyring>[0]) => new KmsKeyring({ client, ...o }).partition
    const all = [
      p({ generatorKeyId: A }),
      p({ generatorKeyId: B }),
      p({ generatorKeyId: A, additionalKeyIds: [B] }),
      p({ generatorKeyId: A, additionalKeyIds: [C] }),
      p({ generatorKeyId: A, decrypt: { mode: 'strict', keyIds: [A, C] } }),
      p({ generatorKeyId: A, decrypt: { mode: 'discovery', accounts: ['111122223333'] } }),
      p({ generatorKeyId: A, decrypt: { mode: 'discovery', accounts: ['444455556666'] } }),
      p({
        generatorKeyId: A,
        decrypt: { mode: 'discovery', accounts: ['111122223333'], partition: 'aws-cn' },
      }),
    ]
    expect(new Set(all).size).toBe(all.length)
    expect(p({ generatorKeyId: A })).toBe(p({ generatorKeyId: A, grantTokens: ['g'] }))
  })

  it.each([
    [{ generatorKeyId: 'not-a-key' }],
    [{ generatorKeyId: A, additionalKeyIds: ['arn:aws:s3:::bucket'] }],
    [{ additionalKeyIds: [B] }],
    [{ generatorKeyId: A, additionalKeyIds: [B, A] }],
    [{}],
    [{ generatorKeyId: A, decrypt: { mode: 'discovery' as const, accounts: [] } }],
    [{ generatorKeyId: A, decrypt: { mode: 'discovery' as const, accounts: ['acme'] } }],
    [
      {
        generatorKeyId: A,
        decrypt: { mode: 'discovery' as const, accounts: ['111122223333'], partition: 'azure' },
      },
    ],
    [{ generatorKeyId: A, grantTokens: [''] }],
    [{ generatorKeyId: A, decrypt: { mode: 'open' } as never }],
  ])('refuses %o with ConfigurationError', (options) => {
    expect(() => new KmsKeyring({ client, ...options })).toThrow(ConfigurationError)
  })

  it('needs a client or a region', () => {
    expect(() => new KmsKeyring({ generatorKeyId: A })).toThrow(/client or a region/)
    expect(new KmsKeyring({ region: 'us-east-1', generatorKeyId: A }).partition).toContain(A)
  })
})

describe('KmsKeyring inside an Envelope (KMS simulated with AES-GCM, context as AAD)', () => {
  // A stand-in for KMS: wraps under a per-key AES key, binding the key ARN and the encryption context.
  const wrapping = new Map([A, B].map((arn) => [arn, randomBytes(32)]))
  const aad = (arn: string, ctx: Record<string, string> = {}) =>
    Buffer.from(JSON.stringify([arn, Object.entries(ctx).sort(([x], [y]) => (x < y ? -1 : 1))]))
  const wrap = (arn: string, key: Uint8Array, ctx?: Record<string, string>) => {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', wrapping.get(arn)!, iv).setAAD(aad(arn, ctx))
    return Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()])
  }
  function simulate(): void {
    kms
      .on(GenerateDataKeyCommand)
      .callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
        const key = randomBytes(32)
        return {
          Plaintext: Uint8Array.from(key),
          CiphertextBlob: wrap(input.KeyId, key, input.EncryptionContext),
          KeyId: input.KeyId,
        }
      })
    kms
      .on(EncryptCommand)
      .callsFake(
        (input: { KeyId: string; Plaintext: Uint8Array; EncryptionContext?: Record<string, string> }) => ({
          CiphertextBlob: wrap(input.KeyId, input.Plaintext, input.EncryptionContext),
          KeyId: input.KeyId,
        }),
      )
    kms
      .on(DecryptCommand)
      .callsFake(
        (input: {
          KeyId: string
          CiphertextBlob: Uint8Array
          EncryptionContext?: Record<string, string>
        }) => {
          const blob = Buffer.from(input.CiphertextBlob)
          const d = createDecipheriv('aes-256-gcm', wrapping.get(input.KeyId)!, blob.subarray(0, 12))
            .setAAD(aad(input.KeyId, input.EncryptionContext))
            .setAuthTag(blob.subarray(44))
          try {
            return {
              Plaintext: Uint8Array.from(Buffer.concat([d.update(blob.subarray(12, 44)), d.final()])),
              KeyId: input.KeyId,
            }
          } catch {
            throw new InvalidCiphertextException({ message: '', $metadata })
          }
        },
      )
  }

  it('round trip with caching: 200 encrypts make 1 GenerateDataKey + 1 Encrypt; a DR-only reader decrypts', async () => {
    simulate()
    const keyring = new KmsKeyring({ client, generatorKeyId: A, additionalKeyIds: [B] })
    const envelope = new Envelope({ keyring })
    const cts = await Promise.all(
      Array.from({ length: 200 }, (_, i) => envelope.encrypt(`m${i}`, { context: { tenant: 'acme' } })),
    )
    expect(keyring.stats()).toMatchObject({ generateDataKey: 1, encrypt: 1 })
    const reader = new KmsKeyring({ client, generatorKeyId: B })
    const { plaintext } = await new Envelope({ keyring: reader }).decrypt(cts[7]!, {
      expectedContext: { tenant: 'acme' },
    })
    expect(Buffer.from(plaintext).toString()).toBe('m7')
    expect(reader.stats().decrypt).toBe(1)
    expect(kms.commandCalls(DecryptCommand).at(-1)!.args[0].input).toMatchObject({
      KeyId: B,
      EncryptionContext: { tenant: 'acme' },
    })
  })

  it('a strict reader for an unrelated key is refused before any Decrypt', async () => {
    simulate()
    const ct = await new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: A }) }).encrypt('x')
    const reader = new KmsKeyring({ client, generatorKeyId: C })
    await expect(new Envelope({ keyring: reader }).decrypt(ct)).rejects.toMatchObject({
      reason: 'NOT_ALLOWED',
    })
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0)
  })

  describe('kmsContext (KMS binds some pairs, every message all of them)', () => {
    it('sends KMS only the listed pairs; 50 records of one tenant cost 1 GenerateDataKey and, cold, 1 Decrypt', async () => {
      simulate()
      const keyring = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] })
      const envelope = new Envelope({ keyring })
      const cts = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          envelope.encrypt(`r${i}`, { context: { tenant: 'acme', record: `r-${i}` } }),
        ),
      )
      expect(keyring.stats().generateDataKey).toBe(1)
      expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.EncryptionContext).toEqual({
        tenant: 'acme',
      })
      // Another tenant is another data key.
      await envelope.encrypt('x', { context: { tenant: 'globex', record: 'r-0' } })
      expect(keyring.stats().generateDataKey).toBe(2)

      const reader = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] })
      const cold = new Envelope({ keyring: reader })
      for (const [i, ct] of cts.entries()) {
        const { plaintext, context } = await cold.decrypt(ct, { expectedContext: { record: `r-${i}` } })
        expect(Buffer.from(plaintext).toString()).toBe(`r${i}`)
        expect(context).toEqual({ tenant: 'acme', record: `r-${i}` })
      }
      expect(reader.stats().decrypt).toBe(1)
      expect(kms.commandCalls(DecryptCommand)[0]!.args[0].input.EncryptionContext).toEqual({ tenant: 'acme' })
    })

    it('the pairs KMS does not see are still authenticated: an edited record id fails, never plaintext', async () => {
      simulate()
      const keyring = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] })
      const envelope = new Envelope({ keyring })
      const ct = Buffer.from(await envelope.encrypt('secret', { context: { tenant: 'acme', record: 'r-1' } }))
      const at = ct.indexOf(Buffer.from('r-1'))
      expect(at).toBeGreaterThan(0)
      ct[at + 2] = '2'.charCodeAt(0)
      // Warm cache (the data key is cached for the tenant) and cold: both refuse.
      await expect(envelope.decrypt(ct)).rejects.toBeInstanceOf(TamperedCiphertextError)
      const cold = new Envelope({
        keyring: new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] }),
      })
      await expect(cold.decrypt(ct)).rejects.toBeInstanceOf(TamperedCiphertextError)
    })

    it('a context without a listed pair is refused before any KMS call; bad lists are refused', async () => {
      simulate()
      const keyring = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant', 'region'] })
      const err = await new Envelope({ keyring })
        .encrypt('x', { context: { tenant: 'acme' } })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigurationError)
      expect((err as Error).message).toMatch(/"region"/)
      expect(kms.calls()).toHaveLength(0)
      for (const bad of [[], [''], ['a', 'a'], 'tenant'] as unknown as string[][]) {
        expect(() => new KmsKeyring({ client, generatorKeyId: A, kmsContext: bad })).toThrow(
          ConfigurationError,
        )
      }
    })

    it('a function selects per message: only marked messages leave their per-object pair out of KMS', async () => {
      simulate()
      const keyring = new KmsKeyring({
        client,
        generatorKeyId: A,
        kmsContext: (ctx) => {
          if (ctx.shared === undefined) return ctx
          const { image: _image, ...rest } = ctx
          return rest
        },
      })
      const envelope = new Envelope({ keyring })
      for (let i = 0; i < 20; i++) {
        await envelope.encrypt(`img${i}`, { context: { dataset: 'd1', shared: 'yes', image: `i${i}.png` } })
      }
      expect(keyring.stats().generateDataKey).toBe(1)
      expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.EncryptionContext).toEqual({
        dataset: 'd1',
        shared: 'yes',
      })
      // Unmarked messages bind everything in KMS: one data key each.
      const a = await envelope.encrypt('a', { context: { dataset: 'd1', image: 'a.png' } })
      await envelope.encrypt('b', { context: { dataset: 'd1', image: 'b.png' } })
      expect(keyring.stats().generateDataKey).toBe(3)
      expect(kms.commandCalls(GenerateDataKeyCommand)[1]!.args[0].input.EncryptionContext).toEqual({
        dataset: 'd1',
        image: 'a.png',
      })
      expect(
        Buffer.from(
          (await new Envelope({ keyring }).decrypt(a, { expectedContext: { image: 'a.png' } })).plaintext,
        ).toString(),
      ).toBe('a')
    })

    it('a listed "__proto__" key is sent to KMS as a pair like any other', async () => {
      simulate()
      const keyring = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['__proto__'] })
      const context = JSON.parse('{"__proto__":"t1","record":"r-1"}') as Record<string, string>
      const ct = await new Envelope({ keyring }).encrypt('x', { context })
      const sent = kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.EncryptionContext!
      expect(Object.entries(sent)).toEqual([['__proto__', 't1']])
      const reader = new Envelope({
        keyring: new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['__proto__'] }),
      })
      expect(Buffer.from((await reader.decrypt(ct)).plaintext).toString()).toBe('x')
    })

    it('purge({ context }) drops the data key of that tenant only (decrypt side too)', async () => {
      simulate()
      const keyring = new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] })
      const envelope = new Envelope({ keyring })
      const acme = await envelope.encrypt('a', { context: { tenant: 'acme', record: 'r-1' } })
      await envelope.encrypt('g', { context: { tenant: 'globex', record: 'r-1' } })
      await envelope.decrypt(acme)
      expect(keyring.stats()).toMatchObject({ generateDataKey: 2, decrypt: 1 })
      // Any context of the tenant names it: the per-record pair does not matter.
      envelope.purge({ context: { tenant: 'acme', record: 'whatever' } })
      await envelope.encrypt('g2', { context: { tenant: 'globex', record: 'r-2' } })
      expect(keyring.stats().generateDataKey).toBe(2)
      await envelope.encrypt('a2', { context: { tenant: 'acme', record: 'r-2' } })
      expect(keyring.stats().generateDataKey).toBe(3)
      await envelope.decrypt(acme)
      expect(keyring.stats().decrypt).toBe(2)
      expect(() => envelope.purge({ scope: 'x', context: { tenant: 'acme' } })).toThrow(ConfigurationError)
      const plain = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: A }) })
      expect(() => plain.purge({ context: { tenant: 'acme' } })).toThrow(ConfigurationError)
    })

    it('a function may only select pairs of the context itself', async () => {
      simulate()
      const keyring = new KmsKeyring({
        client,
        generatorKeyId: A,
        kmsContext: () => ({ tenant: 'someone-else' }),
      })
      const err = await new Envelope({ keyring })
        .encrypt('x', { context: { tenant: 'acme' } })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigurationError)
      expect(kms.calls()).toHaveLength(0)
    })

    it('messages of a keyring without kmsContext are not read through the per-tenant cache entry', async () => {
      simulate()
      const whole = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: A }) })
      const ct = await whole.encrypt('full context', { context: { tenant: 'acme', record: 'r-1' } })
      // KMS bound the whole context: a reader that sends only the tenant is refused by KMS (no plaintext).
      const partial = new Envelope({
        keyring: new KmsKeyring({ client, generatorKeyId: A, kmsContext: ['tenant'] }),
      })
      await expect(partial.decrypt(ct)).rejects.toBeInstanceOf(KmsEnvelopeError)
    })
  })
})

describe('error messages naming values from an unauthenticated header', () => {
  it('escape control characters and cut long key ids (no log injection, no 32 KiB messages)', async () => {
    const evil = `arn:aws:kms:us-east-1:111122223333:key/x\n[ok] decrypted\u001b[2J\u2028${'A'.repeat(1900)}`
    const ct = await new Envelope({ keyring: new TestKeyring(evil) }).encrypt('secret')
    const err = await new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: A }) })
      .decrypt(ct)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    const message = (err as Error).message
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting that none are left is the point.
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
    expect(message).toContain('\\u000a[ok] decrypted\\u001b[2J\\u2028')
    expect(message.length).toBeLessThan(1000)
    expect(kms.calls()).toHaveLength(0)
  })
})
