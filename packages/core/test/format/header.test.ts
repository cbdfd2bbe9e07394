import { Envelope, MalformedCiphertextError } from '@kms-envelope/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ContentType, Suite } from '../../src/format/constants.js'
import { canonicalContext } from '../../src/format/context.js'
import { encodeHeaderPrefix, IncompleteHeader, parseHeader } from '../../src/format/header.js'
import { HeaderMemo } from '../../src/format/header-memo.js'
import { readVarint, writeVarint } from '../../src/format/varint.js'
import { TestKeyring } from '../helpers/test-keyring.js'

const plain = (h: ReturnType<typeof parseHeader>) => ({
  ...h,
  context: { ...h.context },
  nonce: Buffer.from(h.nonce).toString('hex'),
  bytes: Buffer.from(h.bytes).toString('hex'),
  commitment: Buffer.from(h.commitment).toString('hex'),
  encryptedDataKeys: h.encryptedDataKeys.map((e) => ({ ...e, blob: Buffer.from(e.blob).toString('hex') })),
})

describe('varint', () => {
  it('round trips and rejects overlong encodings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 28 - 1 }), (n) => {
        const buf = Buffer.alloc(4)
        const end = writeVarint(buf, 0, n)
        expect(readVarint(buf, 0, 'x')).toEqual([n, end])
      }),
    )
    expect(() => readVarint(Buffer.from([0x81, 0x00]), 0, 'x')).toThrow(MalformedCiphertextError)
    expect(() => readVarint(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 'x')).toThrow(
      MalformedCiphertextError,
    )
  })
})

describe('header', () => {
  it('encode/parse round trip; every prefix is incomplete', () => {
    const { pairs } = canonicalContext({ b: '2', a: '1', é: 'x' })
    const prefix = encodeHeaderPrefix({
      suite: Suite.AES_256_GCM_CMAC_KDF_COMMIT,
      contentType: ContentType.Framed,
      frameLength: 4096,
      pairs,
      encryptedDataKeys: [{ type: 1, keyId: 'k', blob: Buffer.alloc(300, 1) }],
      commitment: Buffer.alloc(32, 2),
    })
    const bytes = Buffer.concat([prefix, Buffer.alloc(12, 3)])
    const h = parseHeader(bytes)
    expect(Object.keys(h.context)).toEqual(['a', 'b', 'é'])
    expect(h.frameLength).toBe(4096)
    expect(h.bytes.length).toBe(bytes.length)
    for (let n = 0; n < bytes.length; n++)
      expect(() => parseHeader(bytes.subarray(0, n))).toThrow(IncompleteHeader)
  })

  it('a malformed varint is malformed even where the input ends (not mistaken for a truncated header)', () => {
    // version, suite, single, then a pair count encoded as 0x80 0x00 (not minimal) and nothing after it.
    expect(() => parseHeader(Buffer.from([1, Suite.AES_256_GCM_CMAC_KDF_COMMIT, 1, 0x80, 0x00]))).toThrow(
      MalformedCiphertextError,
    )
    // An unfinished varint is incomplete, and says how many bytes it needs at least.
    const err = (() => {
      try {
        parseHeader(Buffer.from([1, Suite.AES_256_GCM_CMAC_KDF_COMMIT, 1, 0x80]))
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(IncompleteHeader)
    expect((err as IncompleteHeader).needed).toBe(5)
  })

  it('rejects a context out of canonical order', () => {
    // version, suite, single, 2 pairs: "b"="", "a"="" (descending), 1 edk, commitment, nonce
    const bad = Buffer.concat([
      Buffer.from([1, Suite.AES_256_GCM_CMAC_KDF_COMMIT, 1, 2, 1, 0x62, 0, 1, 0x61, 0, 1, 1, 1, 0x6b, 1, 0]),
      Buffer.alloc(44),
    ])
    expect(() => parseHeader(bad)).toThrow(/canonical order/)
  })

  it('rejects an empty key id (only compact messages leave the KMS key unnamed), before any KMS call', async () => {
    const prefix = (keyId: string) =>
      encodeHeaderPrefix({
        suite: Suite.AES_256_GCM_CMAC_KDF_COMMIT,
        contentType: ContentType.Single,
        frameLength: 0,
        pairs: [],
        encryptedDataKeys: Array.from({ length: 16 }, () => ({ type: 1, keyId, blob: Buffer.alloc(184, 1) })),
        commitment: Buffer.alloc(32, 2),
      })
    expect(parseHeader(Buffer.concat([prefix('k'), Buffer.alloc(12)])).encryptedDataKeys).toHaveLength(16)
    const unnamed = Buffer.concat([prefix(''), Buffer.alloc(12), Buffer.alloc(16)])
    expect(() => parseHeader(unnamed)).toThrow(/empty key id/)
    // Through an envelope: refused as malformed, the keyring is never asked (16 unnamed keys would have cost
    // a KMS call per listed key each).
    const keyring = new TestKeyring()
    await expect(new Envelope({ keyring }).decrypt(unnamed)).rejects.toBeInstanceOf(MalformedCiphertextError)
    expect(keyring.decryptCalls).toBe(0)
  })

  it('the memo returns exactly what a full parse returns, for real and mutated messages (full and compact)', async () => {
    const envelope = new Envelope({ keyring: new TestKeyring() })
    const memo = new HeaderMemo()
    const bases = [
      Buffer.from(await envelope.encrypt('x', { context: { tenant: 'acme' } })),
      Buffer.from(await envelope.encrypt('x', { context: { tenant: 'acme' }, compact: true })),
    ]
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        fc.boolean(),
        async (pos, value, fresh, compact) => {
          const msg = fresh
            ? Buffer.from(await envelope.encrypt('y', { context: { tenant: 'acme' }, compact }))
            : Buffer.from(bases[compact ? 1 : 0]!)
          msg[pos % msg.length] = value
          let expected: unknown
          let actual: unknown
          try {
            expected = plain(parseHeader(msg))
          } catch (e) {
            expected = (e as Error).constructor
          }
          try {
            actual = plain(memo.parse(msg))
          } catch (e) {
            actual = (e as Error).constructor
          }
          expect(actual).toEqual(expected)
        },
      ),
      { numRuns: 300 },
    )
  })
})
