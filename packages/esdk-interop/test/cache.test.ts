import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  EncryptedDataKey,
  KeyringNode,
  KeyringTraceFlag,
  KmsKeyringNode,
  type NodeEncryptionMaterial,
} from '@aws-crypto/client-node'
import { GenerateDataKeyCommand } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidKeyError,
  KmsEnvelopeError,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ReaderDecryptCache } from '../src/decrypt-cache.js'
import { GuardedMaterialsManager, type KeyPolicy } from '../src/guard.js'
import { EsdkReader } from '../src/index.js'
import { KmsCallLog } from '../src/kms-adapter.js'
import { COMMIT, countCalls, drain, LEGACY, SIGNED, type World, world } from './fixtures.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.kms.close())

const N = 20
const texts = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => Buffer.from(`${tag} record ${i}`))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const decrypts = (names: string[]) => names.filter((n) => n === 'DecryptCommand').length

/**
 * A test keyring that encrypts under a data key it was given (plaintext and KMS ciphertext blob), whatever
 * the message's context: what a writer holding a cached data key could do to make messages that claim
 * another context. KMS binds the blob to the context it was generated under; a reader must not skip KMS
 * for such a message just because the same blob's key is cached.
 */
class FixedDataKeyKeyring extends KeyringNode {
  constructor(
    private readonly keyArn: string,
    private readonly dataKey: Uint8Array,
    private readonly blob: Uint8Array,
  ) {
    super()
  }
  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    return material
      .setUnencryptedDataKey(new Uint8Array(this.dataKey), {
        keyNamespace: 'aws-kms',
        keyName: this.keyArn,
        flags: KeyringTraceFlag.WRAPPING_KEY_GENERATED_DATA_KEY,
      })
      .addEncryptedDataKey(
        new EncryptedDataKey({
          providerId: 'aws-kms',
          providerInfo: this.keyArn,
          encryptedDataKey: this.blob,
        }),
        KeyringTraceFlag.WRAPPING_KEY_ENCRYPTED_DATA_KEY | KeyringTraceFlag.WRAPPING_KEY_SIGNED_ENC_CTX,
      )
  }
  async _onDecrypt(): Promise<never> {
    throw new Error('this test keyring only encrypts')
  }
}

/** Messages under one data key that KMS generated for `boundTo`, each claiming its own context. */
async function underOneDataKey(
  boundTo: Record<string, string>,
  messages: { context: Record<string, string>; suiteId?: AlgorithmSuiteIdentifier }[],
): Promise<Uint8Array[]> {
  const { Plaintext, CiphertextBlob } = await w.client.send(
    new GenerateDataKeyCommand({ KeyId: w.keyA, NumberOfBytes: 32, EncryptionContext: boundTo }),
  )
  const keyring = new FixedDataKeyKeyring(w.keyA, Plaintext!, CiphertextBlob!)
  const out: Uint8Array[] = []
  for (const { context, suiteId = COMMIT } of messages) {
    const esdk = buildClient(
      suiteId === COMMIT
        ? CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        : CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
    )
    const { result } = await esdk.encrypt(keyring, Buffer.from(`for ${JSON.stringify(context)}`), {
      suiteId,
      encryptionContext: context,
    })
    out.push(new Uint8Array(result))
  }
  Plaintext!.fill(0)
  return out
}

describe('EsdkReader data-key cache', () => {
  it('N messages written through the ESDK caching CMM: 1 KMS Decrypt per data key (default); N with cache: false', async () => {
    for (const suiteId of [SIGNED, COMMIT, LEGACY]) {
      const pts = texts(N, `suite ${suiteId}`)
      const { messages, generateDataKeyCalls } = await w.esdkEncryptCached(pts, {
        suiteId,
        context: { tenant: 'acme' },
      })
      // Precondition of the test: the ESDK writer really shared one data key.
      expect(generateDataKeyCalls).toBe(1)

      const client = w.kms.client()
      const calls = countCalls(client)
      const reader = new EsdkReader({ client, keyIds: [w.keyA] })
      const perMessage: number[] = []
      for (const [i, m] of messages.entries()) {
        const r = await reader.decrypt(m, { expectedContext: { tenant: 'acme' } })
        expect(Buffer.from(r.plaintext).equals(pts[i]!)).toBe(true)
        perMessage.push(r.kmsCalls.decrypt)
      }
      expect(decrypts(calls.names)).toBe(1)
      expect(perMessage).toEqual([1, ...Array(N - 1).fill(0)])
      expect(reader.stats()).toEqual({
        dataKeys: N,
        cacheHits: N - 1,
        kmsCalls: { decrypt: 1, encrypt: 0, generateDataKey: 0 },
        cachedKeys: 1,
      })

      const uncachedClient = w.kms.client()
      const uncachedCalls = countCalls(uncachedClient)
      const uncached = new EsdkReader({ client: uncachedClient, keyIds: [w.keyA], cache: false })
      for (const m of messages) await uncached.decrypt(m, { expectedContext: { tenant: 'acme' } })
      expect(decrypts(uncachedCalls.names)).toBe(N)
      expect(uncached.stats()).toMatchObject({ dataKeys: N, cacheHits: 0, cachedKeys: 0 })
      expect(uncached.stats().kmsCalls.decrypt).toBe(N)
    }
  })

  it('migrate, decryptStream and migrateStream share the cache', async () => {
    const pts = texts(6, 'streamed')
    const { messages } = await w.esdkEncryptCached(pts, { suiteId: COMMIT, context: { tenant: 'acme' } })
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    const envelope = new Envelope({ keyring: new KmsKeyring({ client: w.client, generatorKeyId: w.keyA }) })
    const a = await reader.migrate(messages[0]!, envelope)
    expect(Buffer.from((await envelope.decrypt(a.message)).plaintext).equals(pts[0]!)).toBe(true)
    const { out, error } = await drain(reader.decryptStream(), messages[1]!, 13)
    expect(error).toBeUndefined()
    expect(out.equals(pts[1]!)).toBe(true)
    const parts: Buffer[] = []
    await pipeline(
      Readable.from([Buffer.from(messages[2]!)]),
      reader.migrateStream(envelope),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          parts.push(chunk)
          cb()
        },
      }),
    )
    expect(Buffer.from((await envelope.decrypt(Buffer.concat(parts))).plaintext).equals(pts[2]!)).toBe(true)
    expect(decrypts(calls.names)).toBe(1)
    expect(reader.stats()).toMatchObject({ dataKeys: 3, cacheHits: 2 })
  })

  it('concurrent reads of messages sharing a data key make one KMS Decrypt', async () => {
    const pts = texts(N, 'parallel')
    const { messages } = await w.esdkEncryptCached(pts, { suiteId: COMMIT, context: { tenant: 'acme' } })
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    const results = await Promise.all(messages.map((m) => reader.decrypt(m)))
    expect(results.map((r) => Buffer.from(r.plaintext).toString())).toEqual(pts.map(String))
    expect(decrypts(calls.names)).toBe(1)
    expect(reader.stats()).toMatchObject({ dataKeys: N, cacheHits: N - 1 })
  })

  it('the expected context is checked on every message, before a cached key is handed out', async () => {
    const { messages } = await w.esdkEncryptCached(texts(2, 'ctx'), { context: { tenant: 'acme' } })
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    await reader.decrypt(messages[0]!, { expectedContext: { tenant: 'acme' } })
    const before = reader.stats()
    expect(before.cachedKeys).toBe(1)
    const wrong: Record<string, string>[] = [{ tenant: 'globex' }, { tenant: 'acme', region: 'eu' }]
    for (const expectedContext of wrong) {
      for (const m of messages) {
        await expect(reader.decrypt(m, { expectedContext })).rejects.toBeInstanceOf(
          EncryptionContextMismatchError,
        )
      }
    }
    // Refused without KMS and without the cache being asked: no data key handed out, no hit.
    expect(reader.stats()).toEqual(before)
    expect(decrypts(calls.names)).toBe(1)
    // A stream is refused the same way, from the same warm cache.
    const { out, error } = await drain(
      reader.decryptStream({ expectedContext: { tenant: 'globex' }, signedMessages: 'buffer' }),
      messages[1]!,
    )
    expect(error).toBeInstanceOf(EncryptionContextMismatchError)
    expect(out.length).toBe(0)
    expect(reader.stats()).toEqual(before)
  })

  it('a key outside the allow-list is refused before KMS even when its data key is cached', async () => {
    const { messages } = await w.esdkEncryptCached(texts(2, 'allow'), { suiteId: COMMIT })
    const client = w.kms.client()
    const calls = countCalls(client)
    // Two operations over one cache (same partition): the first may use keyA, the second only keyB.
    const cache = new ReaderDecryptCache({})
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
    const guarded = (policy: KeyPolicy) => {
      const log = new KmsCallLog(() => client)
      const keyring = new KmsKeyringNode({ keyIds: [w.keyA, w.keyB], clientProvider: log.provider })
      return new GuardedMaterialsManager(cache.materialsManager(keyring), policy, undefined)
    }
    const allowA: KeyPolicy = { mode: 'strict', keyIds: new Set([w.keyA]) }
    const allowB: KeyPolicy = { mode: 'strict', keyIds: new Set([w.keyB]) }
    await esdk.decrypt(guarded(allowA), messages[0]!)
    expect(cache.size).toBe(1)
    expect(decrypts(calls.names)).toBe(1)
    for (const m of messages) {
      await expect(esdk.decrypt(guarded(allowB), m)).rejects.toBeInstanceOf(InvalidKeyError)
    }
    const discovery: KeyPolicy = { mode: 'discovery', accounts: new Set(['444455556666']), partition: 'aws' }
    await expect(esdk.decrypt(guarded(discovery), messages[1]!)).rejects.toBeInstanceOf(InvalidKeyError)
    expect(decrypts(calls.names)).toBe(1)
    // The key is still cached, and still served where the policy allows it.
    expect(cache.size).toBe(1)
    await esdk.decrypt(guarded(allowA), messages[1]!)
    expect(decrypts(calls.names)).toBe(1)

    // Through the reader: the cached message with its key ARN changed to one not allowed.
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    await reader.decrypt(messages[0]!)
    const arn = Buffer.from(w.keyA)
    const at = Buffer.from(messages[1]!).indexOf(arn)
    expect(at).toBeGreaterThan(0)
    const relabelled = Buffer.from(messages[1]!)
    relabelled[at + arn.length - 1]! ^= 0x01
    const err = await reader.decrypt(relabelled).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('NOT_ALLOWED')
    expect(decrypts(calls.names)).toBe(2)
    expect(reader.stats()).toMatchObject({ dataKeys: 1, cacheHits: 0, cachedKeys: 1 })
  })

  it('a cached data key is never handed out for another encryption context (the ESDK cache id binds the context)', async () => {
    // One KMS data key bound to tenant=acme; a holder of it writes a second message claiming tenant=globex.
    const [acme, globex, acme2] = await underOneDataKey({ tenant: 'acme' }, [
      { context: { tenant: 'acme' } },
      { context: { tenant: 'globex' } },
      { context: { tenant: 'acme' } },
    ])
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    expect(Buffer.from((await reader.decrypt(acme!)).plaintext).toString()).toBe('for {"tenant":"acme"}')
    expect(decrypts(calls.names)).toBe(1)
    // Same wrapped data key, key cached, but another context: a cache miss, and KMS refuses the binding.
    const err = await reader.decrypt(globex!).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect((err as KmsEnvelopeError).cause).toMatchObject({ name: 'InvalidCiphertextException' })
    expect(decrypts(calls.names)).toBe(2)
    // The acme key is still cached for acme messages.
    await reader.decrypt(acme2!, { expectedContext: { tenant: 'acme' } })
    expect(decrypts(calls.names)).toBe(2)
    expect(reader.stats()).toMatchObject({ dataKeys: 2, cacheHits: 1, cachedKeys: 1 })
  })

  it('a tampered message fails with a typed error while its data key is cached, never with plaintext', async () => {
    const pt = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(2))
    for (const suiteId of [COMMIT, SIGNED]) {
      const { messages } = await w.esdkEncryptCached([pt, pt], { suiteId, context: { tenant: 'acme' } })
      const m = messages[1]!
      const client = w.kms.client()
      const calls = countCalls(client)
      const reader = new EsdkReader({ client, keyIds: [w.keyA] })
      await reader.decrypt(messages[0]!) // warm
      const codes = new Map<string, number>()
      for (let i = 0; i < m.length; i++) {
        const bad = Buffer.from(m)
        bad[i]! ^= 1 << (i % 8)
        const got = await reader.decrypt(bad).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(got, `byte ${i}: a modified message decrypted`).toBeInstanceOf(KmsEnvelopeError)
        const code = (got as KmsEnvelopeError).code
        codes.set(code, (codes.get(code) ?? 0) + 1)
      }
      // Flips outside the wrapped key and context (body, message id, auth tags, signature) met the cached key
      // and still failed authentication (e.g. 215 of 472 bytes of the non-signing message).
      const { cacheHits } = reader.stats()
      if (process.env.SHOW_CODES) console.log(suiteId, m.length, cacheHits, decrypts(calls.names), codes)
      expect(cacheHits).toBeGreaterThan(m.length / 3)
      expect(codes.get('ERR_TAMPERED')).toBeGreaterThan(m.length / 2)
      // Flips in the wrapped key or context missed the cache and went to KMS (which refused them).
      expect(decrypts(calls.names)).toBeGreaterThan(1)
      expect(decrypts(calls.names)).toBeLessThan(m.length / 2)
      // The untouched message still reads from the cache.
      expect(Buffer.from((await reader.decrypt(m)).plaintext).equals(pt)).toBe(true)
    }
  })

  it('maxAgeMs: an expired data key is wiped at its expiry and the next message calls KMS again', async () => {
    const { messages } = await w.esdkEncryptCached(texts(3, 'age'), { suiteId: COMMIT })
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA], cache: { maxAgeMs: 500 } })
    await reader.decrypt(messages[0]!)
    await reader.decrypt(messages[1]!)
    expect(decrypts(calls.names)).toBe(1)
    expect(reader.stats().cachedKeys).toBe(1)
    await sleep(900)
    // Wiped by the reader's sweep at expiry, without any read.
    expect(reader.stats().cachedKeys).toBe(0)
    const r = await reader.decrypt(messages[2]!)
    expect(r.kmsCalls.decrypt).toBe(1)
    expect(decrypts(calls.names)).toBe(2)
    expect(reader.stats()).toMatchObject({ dataKeys: 3, cacheHits: 1, cachedKeys: 1 })
  })

  it('capacity: the least recently used data key is evicted; purge() drops them all', async () => {
    const sets = []
    for (const tenant of ['a', 'b', 'c']) {
      sets.push(
        (await w.esdkEncryptCached(texts(2, tenant), { suiteId: COMMIT, context: { tenant } })).messages,
      )
    }
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA], cache: { capacity: 2 } })
    await reader.decrypt(sets[0]![0]!) // a
    await reader.decrypt(sets[1]![0]!) // b
    await reader.decrypt(sets[0]![1]!) // a again: a hit, a is now most recent
    await reader.decrypt(sets[2]![0]!) // c: evicts b
    expect(reader.stats()).toMatchObject({ cachedKeys: 2, cacheHits: 1 })
    expect(decrypts(calls.names)).toBe(3)
    await reader.decrypt(sets[0]![0]!) // a: still cached
    expect(decrypts(calls.names)).toBe(3)
    await reader.decrypt(sets[1]![1]!) // b: evicted, KMS again
    expect(decrypts(calls.names)).toBe(4)
    reader.purge()
    expect(reader.stats().cachedKeys).toBe(0)
    await reader.decrypt(sets[0]![1]!)
    expect(decrypts(calls.names)).toBe(5)
  })

  it('suites without a KDF are never cached (the ESDK does not cache them)', async () => {
    const NO_KDF = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16
    const ms = await underOneDataKey({ tenant: 'acme' }, [
      { context: { tenant: 'acme' }, suiteId: NO_KDF },
      { context: { tenant: 'acme' }, suiteId: NO_KDF },
    ])
    const client = w.kms.client()
    const calls = countCalls(client)
    const reader = new EsdkReader({ client, keyIds: [w.keyA] })
    for (const m of ms) await reader.decrypt(m)
    expect(decrypts(calls.names)).toBe(2)
    expect(reader.stats()).toMatchObject({ dataKeys: 2, cacheHits: 0, cachedKeys: 0 })
  })

  it('refuses bad cache options', () => {
    const make = (cache: unknown) =>
      new EsdkReader({ client: w.client, keyIds: [w.keyA], cache: cache as false })
    for (const bad of [
      { capacity: 0 },
      { capacity: 1.5 },
      { maxAgeMs: -1 },
      { maxAgeMs: Number.NaN },
      'on',
      null,
      true,
    ]) {
      expect(() => make(bad), JSON.stringify(bad)).toThrow(ConfigurationError)
    }
    expect(make(false).stats().cachedKeys).toBe(0)
    expect(make({}).stats().cachedKeys).toBe(0)
  })
})
