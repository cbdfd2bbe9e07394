import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidEncryptionContextError,
  inspect,
  KmsKeyring,
  MalformedCiphertextError,
  TamperedCiphertextError,
  TruncatedCiphertextError,
} from '@kms-envelope/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EsdkReader } from '../src/index.js'
import { COMMIT, countCalls, drain, LEGACY, LEGACY_SIGNED, SIGNED, type World, world } from './fixtures.js'

let w: World
let envelope: Envelope
let reader: EsdkReader
beforeAll(async () => {
  w = await world()
  // The new home of the data: a kms-envelope Envelope under the same KMS key (any key works).
  envelope = new Envelope({ keyring: new KmsKeyring({ client: w.client, generatorKeyId: w.keyA }) })
  reader = new EsdkReader({ client: w.client, keyIds: [w.keyA] })
})
afterAll(() => w.kms.close())

const bytes = (n: number, seed = 3) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff))

describe('migrate', () => {
  it('re-encrypts byte-exactly with the context (minus ESDK-reserved keys); core decrypts, inspect shows it', async () => {
    for (const suiteId of [SIGNED, COMMIT, LEGACY, LEGACY_SIGNED]) {
      for (const frameLength of [1, 100, 4096]) {
        const pt = bytes(777, frameLength)
        const context = { tenant: 'acme', table: 'orders' }
        const esdk = await w.esdkEncrypt(pt, { suiteId, frameLength, context })
        const r = await reader.migrate(esdk, envelope, { expectedContext: { tenant: 'acme' } })
        expect(r.context).toEqual(context)
        expect(Object.keys(r.droppedContext)).toEqual(
          suiteId === SIGNED || suiteId === LEGACY_SIGNED ? ['aws-crypto-public-key'] : [],
        )
        expect(r.source.suite.id).toBe(suiteId)
        expect(inspect(r.message).context).toEqual(context)
        const back = await envelope.decrypt(r.message, { expectedContext: context })
        expect(Buffer.from(back.plaintext).equals(pt)).toBe(true)
        expect(back.context).toEqual(context)
      }
    }
  })

  it('checks expectedContext before any KMS call and writes nothing', async () => {
    const esdk = await w.esdkEncrypt(bytes(10), { context: { tenant: 'acme' } })
    const client = w.kms.client()
    const calls = countCalls(client)
    const r = new EsdkReader({ client, keyIds: [w.keyA] })
    const target = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: w.keyA }) })
    await expect(r.migrate(esdk, target, { expectedContext: { tenant: 'globex' } })).rejects.toBeInstanceOf(
      EncryptionContextMismatchError,
    )
    const s = await drain(
      r.migrateStream(target, { expectedContext: { tenant: 'globex' }, signedMessages: 'spool' }),
      esdk,
    )
    expect(s.error).toBeInstanceOf(EncryptionContextMismatchError)
    expect(s.out.length).toBe(0)
    expect(calls.names).toEqual([])
  })

  it('an ESDK context with a key kms-envelope reserves is refused with a typed error, nothing written', async () => {
    const esdk = await w.esdkEncrypt(bytes(10), { context: { 'kms-envelope:scope': 'x' } })
    await expect(reader.migrate(esdk, envelope)).rejects.toBeInstanceOf(InvalidEncryptionContextError)
  })

  it('round-trips any plaintext, context, frame length and suite (property)', async () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/)
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.dictionary(key, fc.string({ maxLength: 20 }), { maxKeys: 5 }),
        fc.integer({ min: 1, max: 600 }),
        fc.constantFrom(SIGNED, COMMIT, LEGACY, LEGACY_SIGNED),
        async (pt, context, frameLength, suiteId) => {
          const esdk = await w.esdkEncrypt(pt, { suiteId, frameLength, context })
          const { message } = await reader.migrate(esdk, envelope, { expectedContext: context })
          const back = await envelope.decrypt(message, { expectedContext: context })
          expect(Buffer.from(back.plaintext).equals(Buffer.from(pt))).toBe(true)
          expect(back.context).toEqual(context)
          // And the streaming migration gives a message with the same plaintext and context.
          const s = await drain(
            reader.migrateStream(envelope, { signedMessages: 'spool', frameLength: 64 }),
            esdk,
            50,
          )
          expect(s.error).toBeUndefined()
          const viaStream = await envelope.decrypt(s.out, { expectedContext: context })
          expect(Buffer.from(viaStream.plaintext).equals(Buffer.from(pt))).toBe(true)
        },
      ),
      { numRuns: 40 },
    )
  })
})

describe('migrateStream', () => {
  it('streams non-signing messages into a framed kms-envelope message', async () => {
    for (const suiteId of [COMMIT, LEGACY]) {
      const pt = bytes(50_000)
      const esdk = await w.esdkEncrypt(pt, { suiteId, frameLength: 4096, context: { tenant: 'acme' } })
      const stream = reader.migrateStream(envelope, {
        expectedContext: { tenant: 'acme' },
        frameLength: 1000,
      })
      const { out, error } = await drain(stream, esdk, 1500)
      expect(error).toBeUndefined()
      const info = inspect(out)
      expect(info.framed).toBe(true)
      expect(info.frameLength).toBe(1000)
      expect(info.context).toEqual({ tenant: 'acme' })
      expect((await stream.header).suite.id).toBe(suiteId)
      expect(Buffer.from((await envelope.decrypt(out)).plaintext).equals(pt)).toBe(true)
    }
  })

  it('refuses signed messages by default, before any KMS call', async () => {
    const esdk = await w.esdkEncrypt(bytes(100), { suiteId: SIGNED })
    const client = w.kms.client()
    const calls = countCalls(client)
    const r = new EsdkReader({ client, keyIds: [w.keyA] })
    const { out, error } = await drain(r.migrateStream(envelope), esdk)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(out.length).toBe(0)
    const d = await drain(r.decryptStream(), esdk)
    expect(d.error).toBeInstanceOf(ConfigurationError)
    expect(d.out.length).toBe(0)
    expect(calls.names).toEqual([])
  })

  it("'spool' holds the migrated output until the signature verified, then deletes the spool file", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'esdk-spool-'))
    const pt = bytes(20_000)
    const esdk = await w.esdkEncrypt(pt, { suiteId: SIGNED, frameLength: 512, context: { k: 'v' } })
    const ok = await drain(
      reader.migrateStream(envelope, { signedMessages: 'spool', spoolDir: dir }),
      esdk,
      300,
    )
    expect(ok.error).toBeUndefined()
    expect(
      Buffer.from((await envelope.decrypt(ok.out, { expectedContext: { k: 'v' } })).plaintext).equals(pt),
    ).toBe(true)
    expect(await readdir(dir)).toEqual([])

    // A forged signature: every frame authenticates, only the signature at the very end fails.
    const forged = Buffer.from(esdk)
    forged[forged.length - 5]! ^= 0x01
    const bad = await drain(
      reader.migrateStream(envelope, { signedMessages: 'spool', spoolDir: dir }),
      forged,
      300,
    )
    expect(bad.error).toBeInstanceOf(TamperedCiphertextError)
    expect(bad.out.length).toBe(0) // nothing released, not even ciphertext
    expect(await readdir(dir)).toEqual([])
  })

  it('a source cut short or tampered mid-body leaves an output with no final frame, which core rejects', async () => {
    const pt = bytes(30_000)
    const esdk = await w.esdkEncrypt(pt, { suiteId: COMMIT, frameLength: 1024 })
    for (const cut of [esdk.length - 1, esdk.length - 17, Math.floor(esdk.length / 2), 2000]) {
      const r = await drain(reader.migrateStream(envelope, { frameLength: 512 }), esdk.subarray(0, cut), 256)
      expect(r.error).toBeInstanceOf(TruncatedCiphertextError)
      if (r.out.length > 0)
        await expect(envelope.decrypt(r.out)).rejects.toBeInstanceOf(TruncatedCiphertextError)
    }
    const flipped = Buffer.from(esdk)
    flipped[Math.floor(esdk.length * 0.7)]! ^= 0x40
    const t = await drain(reader.migrateStream(envelope, { frameLength: 512 }), flipped, 256)
    expect(t.error).toBeInstanceOf(TamperedCiphertextError)
    expect(t.out.length).toBeGreaterThan(0) // earlier, authenticated frames were re-encrypted...
    await expect(envelope.decrypt(t.out)).rejects.toBeInstanceOf(TruncatedCiphertextError) // ...but never finalized
  })
})

describe('decryptStream', () => {
  it('streams non-signing messages; buffers signed ones until verified (bounded)', async () => {
    const pt = bytes(40_000)
    for (const suiteId of [COMMIT, LEGACY, SIGNED, LEGACY_SIGNED]) {
      const esdk = await w.esdkEncrypt(pt, { suiteId, frameLength: 2048, context: { a: 'b' } })
      const s = reader.decryptStream({ expectedContext: { a: 'b' }, signedMessages: 'buffer' })
      const { out, error } = await drain(s, esdk, 999)
      expect(error).toBeUndefined()
      expect(out.equals(pt)).toBe(true)
      expect((await s.header).context).toEqual({ a: 'b' })
    }
    const signed = await w.esdkEncrypt(pt, { suiteId: SIGNED })
    const small = await drain(
      reader.decryptStream({ signedMessages: 'buffer', maxBufferedBytes: 10_000 }),
      signed,
    )
    expect(small.error).toMatchObject({ code: 'ERR_LIMIT_EXCEEDED' })
    expect(small.out.length).toBe(0)
    for (const maxBufferedBytes of [Number.NaN, 0, -1, 1.5]) {
      expect(() => reader.decryptStream({ signedMessages: 'buffer', maxBufferedBytes })).toThrow(
        ConfigurationError,
      )
    }
    const forged = Buffer.from(signed)
    forged[forged.length - 3]! ^= 0x80
    const bad = await drain(reader.decryptStream({ signedMessages: 'buffer' }), forged)
    expect(bad.error).toBeInstanceOf(TamperedCiphertextError)
    expect(bad.out.length).toBe(0)
  })

  it('a wrong context errors the stream before any output', async () => {
    const esdk = await w.esdkEncrypt(bytes(100), { suiteId: COMMIT, context: { a: 'b' } })
    const { out, error } = await drain(reader.decryptStream({ expectedContext: { a: 'c' } }), esdk)
    expect(error).toBeInstanceOf(EncryptionContextMismatchError)
    expect(out.length).toBe(0)
  })

  it('a whole input shorter than an ESDK start is malformed (not truncated) unless it is a prefix of one', async () => {
    // The source ended, so the bytes are complete: "hi" is not an ESDK message at all.
    const garbage = await drain(reader.decryptStream(), Buffer.from('hi'))
    expect(garbage.error).toBeInstanceOf(MalformedCiphertextError)
    const cut = await drain(reader.decryptStream(), Buffer.from([0x01, 0x80]))
    expect(cut.error).toBeInstanceOf(TruncatedCiphertextError)
    // Same classification as decrypt() on the same bytes.
    await expect(reader.decrypt(Buffer.from('hi'))).rejects.toBeInstanceOf(MalformedCiphertextError)
  })
})
