// Scope keys through the real Envelope (format, cache, streams): round trip, overhead, KMS calls, window
// changes through notAfter, shredding with the cache (purge, zeroized keys), tamper of the reference.
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Envelope } from '../../src/envelope/envelope.js'
import { readHeader } from '../../src/envelope/inspect.js'
import { KeyDestroyedError, TamperedCiphertextError } from '../../src/errors/errors.js'
import type { EncryptionContext, GeneratedDataKey, Keyring } from '../../src/keyring/types.js'
import { KeyHierarchy, MemoryKeyStore } from '../../src/scope/index.js'
import { FakeKms } from './fake-kms.js'

let kms: FakeKms
let root: string
let envelopes: Envelope[] = []
beforeEach(() => {
  kms = new FakeKms()
  root = kms.createKey()
})
afterEach(() => {
  for (const e of envelopes) e.purge()
  envelopes = []
})

function setup(keyWindowMs?: number) {
  const store = new MemoryKeyStore()
  const hierarchy = new KeyHierarchy({ kms: kms.client(), rootKeyId: root, store, keyWindowMs })
  return { store, hierarchy }
}

function envelopeFor(keyring: Keyring): Envelope {
  const e = new Envelope({ keyring })
  envelopes.push(e)
  return e
}

/** Keeps a reference to every plaintext key the keyring hands out, to check the envelope wiped them. */
class Watching implements Keyring {
  readonly handedOut: Uint8Array[] = []
  constructor(readonly inner: Keyring) {}
  get partition() {
    return this.inner.partition
  }
  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const k = await this.inner.generateDataKey(context)
    this.handedOut.push(k.plaintextKey)
    return k
  }
  async decryptDataKey(...args: Parameters<Keyring['decryptDataKey']>) {
    const k = await this.inner.decryptDataKey(...args)
    this.handedOut.push(k.plaintextKey)
    return k
  }
}

describe('Envelope with scope keys', () => {
  it('round trip; 1 KiB message overhead <= 80 bytes; header references (scope, version)', async () => {
    const { hierarchy } = setup(3_600_000)
    const envelope = envelopeFor(hierarchy.keyring('cust-42'))
    const data = new Uint8Array(1024).fill(7)
    const ct = await envelope.encrypt(data)
    expect(ct.length - data.length).toBeLessThanOrEqual(80)
    expect(readHeader(ct).encryptedDataKeys.map((k) => [k.type, k.keyId, [...k.blob]])).toEqual([
      [2, 'cust-42', [1]],
    ])
    const reader = envelopeFor(hierarchy.keyring('cust-42'))
    expect(Buffer.from((await reader.decrypt(ct)).plaintext).equals(Buffer.from(data))).toBe(true)
  })

  it('one scope key serves many messages: 1 GenerateDataKey for 500 encrypts, 1 Decrypt for 500 decrypts', async () => {
    const { hierarchy } = setup(3_600_000)
    const writer = envelopeFor(hierarchy.keyring({ contextKey: 'instance' }))
    const cts = await Promise.all(
      Array.from({ length: 500 }, (_, i) => writer.encrypt(`record ${i}`, { context: { instance: 'i-1' } })),
    )
    expect(kms.count('GenerateDataKey')).toBe(1)
    const reader = envelopeFor(hierarchy.keyring({ contextKey: 'instance' }))
    const out = await Promise.all(
      cts.map((ct) => reader.decryptString(ct, { expectedContext: { instance: 'i-1' } })),
    )
    expect(out[499]).toBe('record 499')
    expect(kms.count('Decrypt')).toBe(1)
    expect(kms.count()).toBe(2)
  })

  it('per-record context pairs do not split the cache: 200 contacts of one instance cost 1 GenerateDataKey and 1 Decrypt', async () => {
    const { hierarchy } = setup(3_600_000)
    const writer = envelopeFor(hierarchy.keyring({ contextKey: 'instance' }))
    const contexts = Array.from({ length: 200 }, (_, i) => ({ instance: 'i-1', contact: `c-${i}` }))
    const cts = await Promise.all(contexts.map((context, i) => writer.encrypt(`record ${i}`, { context })))
    expect(writer.stats().loads).toBe(1)
    expect(kms.count('GenerateDataKey')).toBe(1)
    // Each message still carries and authenticates its own context.
    const reader = envelopeFor(hierarchy.keyring({ contextKey: 'instance' }))
    for (const [i, ct] of cts.entries()) {
      const { plaintext, context } = await reader.decrypt(ct, { expectedContext: contexts[i] })
      expect(Buffer.from(plaintext).toString()).toBe(`record ${i}`)
      expect(context.contact).toBe(`c-${i}`)
    }
    expect(reader.stats().loads).toBe(1)
    expect(kms.count('Decrypt')).toBe(1)
    // A second instance is a second scope: its own key.
    const other = await writer.encrypt('x', { context: { instance: 'i-2', contact: 'c-0' } })
    expect(writer.stats().loads).toBe(2)
    expect(readHeader(other).encryptedDataKeys[0]?.keyId).toBe('i-2')
    // Changing one context byte of a message (same length, header still parses) fails authentication.
    const edited = Buffer.from(cts[0]!)
    const at = edited.indexOf(Buffer.from('c-0'))
    edited[at + 2] = '9'.charCodeAt(0)
    await expect(reader.decrypt(edited)).rejects.toBeInstanceOf(TamperedCiphertextError)
  })

  it('streams use scope keys too', async () => {
    const { hierarchy } = setup()
    const envelope = envelopeFor(hierarchy.keyring('media'))
    const input = Buffer.alloc(300_000, 3)
    const chunks: Buffer[] = []
    await pipeline(Readable.from([input]), envelope.encryptStream({ frameLength: 65536 }), async (source) => {
      for await (const c of source) chunks.push(c as Buffer)
    })
    const out: Buffer[] = []
    await pipeline(Readable.from([Buffer.concat(chunks)]), envelope.decryptStream(), async (source) => {
      for await (const c of source) out.push(c as Buffer)
    })
    expect(Buffer.concat(out).equals(input)).toBe(true)
  })

  it('a new window starts a new version without purging (notAfter ends the cache entry)', async () => {
    const { hierarchy } = setup(1000)
    const envelope = envelopeFor(hierarchy.keyring('w'))
    const start = Date.now()
    // Align to the start of a window so two encrypts fall into one window.
    await sleep(1000 - (start % 1000) + 5)
    const a = await envelope.encrypt('a')
    const b = await envelope.encrypt('b')
    expect(readHeader(b).encryptedDataKeys[0]!.blob).toEqual(readHeader(a).encryptedDataKeys[0]!.blob)
    await sleep(1000 - (Date.now() % 1000) + 5)
    const c = await envelope.encrypt('c')
    expect([...readHeader(c).encryptedDataKeys[0]!.blob]).toEqual([2])
    expect(await envelope.decryptString(a)).toBe('a')
    expect(await envelope.decryptString(c)).toBe('c')
  })

  it('shredding: after destroy + purge, decrypt fails with KeyDestroyedError; no key stays in the cache; keys were wiped', async () => {
    const { hierarchy } = setup(3_600_000)
    const watching = new Watching(hierarchy.keyring('cust'))
    const envelope = envelopeFor(watching)
    const ct = await envelope.encrypt('PII: +1 555 0100')
    expect(await envelope.decryptString(ct)).toBe('PII: +1 555 0100')
    expect(envelope.stats().entries).toBe(2)
    await hierarchy.destroyScope('cust', { actor: 'dpo', reason: 'erasure' })
    // Before purge, this process still has the key cached (documented: until TTL or purge()).
    expect(await envelope.decryptString(ct)).toBe('PII: +1 555 0100')
    envelope.purge()
    expect(envelope.stats().entries).toBe(0)
    const err = await envelope.decrypt(ct).catch((e) => e)
    expect(err).toBeInstanceOf(KeyDestroyedError)
    expect(err.destroyedBy).toBe('dpo')
    // Every plaintext scope key the keyring handed to the envelope was zeroized.
    expect(watching.handedOut.length).toBeGreaterThanOrEqual(2)
    for (const k of watching.handedOut) expect(k.every((b) => b === 0)).toBe(true)
    // A fresh process with full KMS access fails the same way.
    await expect(envelopeFor(hierarchy.keyring('cust')).decrypt(ct)).rejects.toBeInstanceOf(KeyDestroyedError)
    await expect(envelope.encrypt('more')).rejects.toBeInstanceOf(KeyDestroyedError)
  })

  it('purge({ scope }) drops only that scope: the other scopes stay warm, the purged scope loads again', async () => {
    const { hierarchy } = setup(3_600_000)
    const envelope = envelopeFor(hierarchy.keyring({ contextKey: 't' }))
    // 'a' and 'ab' share a prefix: a scoped purge must match whole scope ids.
    const ids = ['a', 'ab', 'b']
    const cts = new Map<string, Uint8Array>()
    for (const t of ids) cts.set(t, await envelope.encrypt(`for ${t}`, { context: { t } }))
    for (const t of ids) expect(await envelope.decryptString(cts.get(t)!)).toBe(`for ${t}`)
    const entries = envelope.stats().entries
    expect(entries).toBe(2 * ids.length)
    await hierarchy.destroyScope('a', { actor: 'dpo', reason: 'erasure' })
    envelope.purge({ scope: 'a' })
    expect(envelope.stats().entries).toBe(entries - 2)
    const kmsCalls = kms.calls.length
    // The other scopes read and write from the cache: no KMS call, no store read that fails.
    for (const t of ['ab', 'b']) {
      expect(await envelope.decryptString(cts.get(t)!)).toBe(`for ${t}`)
      await envelope.encrypt('more', { context: { t } })
    }
    expect(kms.calls.length).toBe(kmsCalls)
    await expect(envelope.decrypt(cts.get('a')!)).rejects.toBeInstanceOf(KeyDestroyedError)
    await expect(envelope.encrypt('more', { context: { t: 'a' } })).rejects.toBeInstanceOf(KeyDestroyedError)
  })

  it('purge({ scope }) refuses a keyring without scoped data keys', async () => {
    const { hierarchy } = setup()
    // Watching hides dataKeyScope: the envelope caches per context, so there is no scope to purge.
    const envelope = envelopeFor(new Watching(hierarchy.keyring('cust')))
    expect(() => envelope.purge({ scope: 'cust' })).toThrow(/purge\(\) with no argument/)
  })

  it('tamper: pointing a message at another version or scope fails (commitment / KMS binding), never plaintext', async () => {
    const { hierarchy } = setup()
    const envelope = envelopeFor(hierarchy.keyring({ contextKey: 't' }))
    const ct = await envelope.encrypt('secret', { context: { t: 'a' } })
    await hierarchy.rotate('a')
    // Change the version byte in the header (1 -> 2): the header is authenticated and committed.
    const idx = Buffer.from(ct).indexOf(Buffer.from([0x02, 0x01, 0x61, 0x01, 0x01]))
    expect(idx).toBeGreaterThan(0)
    const moved = Uint8Array.from(ct)
    moved[idx + 4] = 2
    await expect(envelope.decrypt(moved)).rejects.toBeInstanceOf(TamperedCiphertextError)
  })
})
