import { KmsEnvelopeError } from '@kms-envelope/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EsdkReader } from '../src/index.js'
import { COMMIT, drain, LEGACY, LEGACY_SIGNED, SIGNED, type World, world } from './fixtures.js'

let w: World
let reader: EsdkReader
beforeAll(async () => {
  w = await world()
  reader = new EsdkReader({ client: w.client, keyIds: [w.keyA] })
})
afterAll(() => w.kms.close())

/** What a modified message may legitimately produce, depending on which byte changed. */
const TAMPER_CODES = new Set([
  'ERR_TAMPERED', // header auth tag, frame tag, signature, KMS InvalidCiphertext (EDK or context bytes)
  'ERR_MALFORMED', // a length or field no longer parses
  'ERR_TRUNCATED', // a length now points past the end
  'ERR_UNSUPPORTED_FORMAT', // version or suite id
  'ERR_INVALID_KEY', // the key ARN in the header changed: no longer an allowed key
  'ERR_LIMIT_EXCEEDED', // the wrapped-key count grew
  'ERR_COMMITMENT_POLICY',
])

const pt = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(3))

async function expectRejected(message: Uint8Array, what: string, codes: Map<string, number>) {
  const got = await reader.decrypt(message).then(
    (r) => ({ plaintext: r.plaintext }),
    (e: unknown) => ({ error: e }),
  )
  if ('plaintext' in got) throw new Error(`${what}: a modified message decrypted`)
  expect(got.error, what).toBeInstanceOf(KmsEnvelopeError)
  const code = (got.error as KmsEnvelopeError).code
  expect(TAMPER_CODES.has(code), `${what}: ${code} ${(got.error as Error).message}`).toBe(true)
  codes.set(code, (codes.get(code) ?? 0) + 1)
}

describe('tampered ESDK messages', () => {
  for (const [name, suiteId] of [
    ['committing signed (ESDK default)', SIGNED],
    ['committing non-signing', COMMIT],
  ] as const) {
    it(`${name}: flipping any single bit of any byte (header, body, signature) gives a typed error, never plaintext`, async () => {
      const m = await w.esdkEncrypt(pt, { suiteId, frameLength: 64, context: { tenant: 'acme' } })
      const codes = new Map<string, number>()
      for (let i = 0; i < m.length; i++) {
        const bad = Buffer.from(m)
        bad[i]! ^= 1 << (i % 8)
        await expectRejected(bad, `byte ${i}/${m.length}`, codes)
      }
      // Every region was hit: header fields, authentication failures.
      expect(codes.get('ERR_TAMPERED')).toBeGreaterThan(m.length / 2)
      if (process.env.SHOW_CODES) console.log(name, m.length, Object.fromEntries(codes))
    })
  }

  it('legacy suites: random byte changes at random positions are rejected (property)', async () => {
    const messages = [
      await w.esdkEncrypt(pt, { suiteId: LEGACY, frameLength: 50, context: { a: 'b' } }),
      await w.esdkEncrypt(pt, { suiteId: LEGACY_SIGNED, frameLength: 50, context: { a: 'b' } }),
    ]
    const codes = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 255 }),
        async (which, at, mask) => {
          const m = messages[which]!
          const bad = Buffer.from(m)
          const i = Math.floor(at * m.length)
          bad[i]! ^= mask
          await expectRejected(bad, `suite ${which} byte ${i} ^ ${mask}`, codes)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('truncation at every length is rejected', async () => {
    const m = await w.esdkEncrypt(pt, { suiteId: SIGNED, frameLength: 100 })
    const codes = new Map<string, number>()
    for (let n = 0; n < m.length; n += n < 400 || n > m.length - 120 ? 1 : 5)
      await expectRejected(m.subarray(0, n), `cut at ${n}`, codes)
    // A byte appended after the signature is rejected too.
    await expectRejected(Buffer.concat([m, Buffer.of(0)]), 'extra byte', codes)
  })

  it('streaming (non-signing): a flipped byte errors the stream; what was released is an authentic prefix', async () => {
    const m = await w.esdkEncrypt(pt, { suiteId: COMMIT, frameLength: 32 })
    for (let i = 0; i < m.length; i += 5) {
      const bad = Buffer.from(m)
      bad[i]! ^= 0x10
      const { out, error } = await drain(reader.decryptStream(), bad, 41)
      expect(error, `byte ${i}`).toBeInstanceOf(KmsEnvelopeError)
      expect(pt.subarray(0, out.length).equals(out), `byte ${i}: released bytes are not a prefix`).toBe(true)
      expect(out.length).toBeLessThan(pt.length)
    }
  })
})
