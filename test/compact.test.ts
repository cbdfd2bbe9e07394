// Compact messages (docs/FORMAT.md, content type 0x03) against the embedded local KMS: the context and the
// KMS key id are authenticated but not stored, so the reader must name both; anything else is a typed
// error and never plaintext.
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidKeyError,
  inspect,
  KmsEnvelopeError,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let kms: LocalKms
let client: KMSClient
let keyA: string
let keyB: string

beforeAll(async () => {
  kms = await LocalKms.create()
  client = kms.client({ maxAttempts: 1 })
  const create = async () => (await client.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
  keyA = await create()
  keyB = await create()
})
afterAll(async () => {
  await kms?.close()
})

const writer = () => new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: keyA }) })
const reader = (keyIds: string[]) =>
  new Envelope({
    keyring: new KmsKeyring({ client, generatorKeyId: keyIds[0]!, decrypt: { mode: 'strict', keyIds } }),
  })
const context = { tenant: 'acme', purpose: 'demo' }

describe('compact messages', () => {
  it('round trip with the exact context; header stores neither context nor key id', async () => {
    const ct = await writer().encrypt('call notes', { context, compact: true })
    const info = inspect(ct)
    expect(info.contextStored).toBe(false)
    expect(info.context).toEqual({})
    expect(info.encryptedDataKeys).toEqual([{ type: 'aws-kms', keyId: '', blobLength: expect.any(Number) }])
    // Outside the KMS blob (which names its key internally, as AWS KMS blobs do), neither is stored.
    const blobLength = info.encryptedDataKeys[0]!.blobLength
    const start = 3 + (blobLength < 128 ? 1 : 2)
    const outside = Buffer.concat([
      Buffer.from(ct).subarray(0, start),
      Buffer.from(ct).subarray(start + blobLength),
    ])
    expect(outside.includes(Buffer.from('acme'))).toBe(false)
    expect(outside.includes(Buffer.from(keyA))).toBe(false)
    expect(Buffer.from(ct).includes(Buffer.from('acme'))).toBe(false)
    const out = await reader([keyA]).decrypt(ct, { context: { purpose: 'demo', tenant: 'acme' } })
    expect(Buffer.from(out.plaintext).toString()).toBe('call notes')
    expect(out.context).toEqual(context)
  })

  it('overhead is header (3 + blob length varint + blob + 32 + 12) + 16-byte tag: 249 B with a 184-byte KMS blob', async () => {
    const ct = await writer().encrypt(Buffer.alloc(1024), { context, compact: true })
    const blobLength = inspect(ct).encryptedDataKeys[0]!.blobLength
    const varint = blobLength < 128 ? 1 : 2
    expect(ct.length - 1024).toBe(3 + varint + blobLength + 32 + 12 + 16)
    expect(3 + 2 + 184 + 32 + 12 + 16).toBe(249)
    const full = await writer().encrypt(Buffer.alloc(1024), { context })
    expect(full.length - ct.length).toBeGreaterThan(100)
  })

  it('without the context, or with any other context, decryption fails with a typed error', async () => {
    const ct = await writer().encrypt('secret', { context, compact: true })
    const r = reader([keyA])
    await expect(r.decrypt(ct)).rejects.toBeInstanceOf(ConfigurationError)
    const wrongs: Record<string, string>[] = [
      { tenant: 'acme' },
      { ...context, extra: 'x' },
      { tenant: 'acme', purpose: 'other' },
      {},
    ]
    for (const wrong of wrongs) {
      const err = await r.decrypt(ct, { context: wrong }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TamperedCiphertextError)
      expect((err as Error).message).toMatch(/exactly the one it was encrypted with/)
    }
    // A warm cache does not bypass the check: the right context, then a wrong one.
    await expect(r.decrypt(ct, { context })).resolves.toBeDefined()
    await expect(r.decrypt(ct, { context: { tenant: 'acme', purpose: 'x' } })).rejects.toBeInstanceOf(
      TamperedCiphertextError,
    )
    // expectedContext is checked against the given context before any KMS call.
    await expect(r.decrypt(ct, { context, expectedContext: { tenant: 'globex' } })).rejects.toBeInstanceOf(
      EncryptionContextMismatchError,
    )
  })

  it('a strict keyring tries its keys in order; discovery refuses a message that does not name its key', async () => {
    const ct = await writer().encrypt('x', { context, compact: true })
    const out = await reader([keyB, keyA]).decrypt(ct, { context })
    expect(Buffer.from(out.plaintext).toString()).toBe('x')
    const wrongKey = await reader([keyB])
      .decrypt(ct, { context })
      .catch((e: unknown) => e)
    expect(wrongKey).toBeInstanceOf(InvalidKeyError)
    expect((wrongKey as InvalidKeyError).reason).toBe('NOT_ALLOWED')
    expect((wrongKey as Error).message).toMatch(/an unnamed KMS key/)
    const discovery = new Envelope({
      keyring: new KmsKeyring({ client, decrypt: { mode: 'discovery', accounts: ['111122223333'] } }),
    })
    const err = await discovery.decrypt(ct, { context }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).remedy).toMatch(/strict keyring/)
  })

  it('refuses keyrings with more than one wrapping key, and decryptStream', async () => {
    const two = new Envelope({
      keyring: new KmsKeyring({ client, generatorKeyId: keyA, additionalKeyIds: [keyB] }),
    })
    await expect(two.encrypt('x', { compact: true })).rejects.toBeInstanceOf(ConfigurationError)
    const ct = await writer().encrypt('x', { context, compact: true })
    const stream = reader([keyA]).decryptStream({ context })
    const done = new Promise((resolve, reject) => {
      stream.on('error', reject)
      stream.on('finish', resolve)
    })
    stream.end(ct)
    stream.resume()
    await expect(done).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('flipping any byte of a compact message gives a typed error, never plaintext', async () => {
    const ct = Buffer.from(await writer().encrypt('the plaintext', { context, compact: true }))
    const r = reader([keyA])
    for (let i = 0; i < ct.length; i++) {
      const bad = Buffer.from(ct)
      bad[i] = (bad[i] as number) ^ 0x01
      const result = await r.decrypt(bad, { context }).then(
        (ok) => ok,
        (e: unknown) => e,
      )
      expect(result, `byte ${i}`).toBeInstanceOf(KmsEnvelopeError)
    }
  })

  it('round-trips any bytes and context (property)', async () => {
    const w = writer()
    const r = reader([keyA])
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !/^(aws|kms-envelope:)/.test(k)),
          fc.string({ maxLength: 12 }),
          { maxKeys: 4 },
        ),
        async (data, ctx) => {
          const ct = await w.encrypt(data, { context: ctx, compact: true })
          const out = await r.decrypt(ct, { context: ctx })
          expect(Buffer.from(out.plaintext).equals(Buffer.from(data))).toBe(true)
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe('decrypt({ context }) on messages that store their context', () => {
  it('requires the stored context to equal the given one exactly', async () => {
    const ct = await writer().encrypt('x', { context })
    const r = reader([keyA])
    await expect(r.decrypt(ct, { context: { purpose: 'demo', tenant: 'acme' } })).resolves.toBeDefined()
    await expect(r.decrypt(ct, { context: { tenant: 'acme' } })).rejects.toBeInstanceOf(
      EncryptionContextMismatchError,
    )
    await expect(r.decrypt(ct, { context: { ...context, extra: '1' } })).rejects.toBeInstanceOf(
      EncryptionContextMismatchError,
    )
  })
})
