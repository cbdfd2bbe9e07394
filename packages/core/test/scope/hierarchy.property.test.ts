// Property test: any sequence of encrypt-key requests, clock moves, rotations, destructions and key switches
// keeps the hierarchy's promises: a version always unwraps to the key it was first handed out with (or fails
// with KeyDestroyedError once destroyed), the current version's window contains the clock, versions only
// grow, and nothing destroyed comes back.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyDestroyedError } from '../../src/errors/errors.js'
import { encodeVersion, KeyHierarchy, MemoryKeyStore } from '../../src/scope/index.js'
import { FakeKms } from './fake-kms.js'

const HOUR = 3_600_000
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

type Op =
  | { kind: 'generate'; scope: string }
  | { kind: 'advance'; ms: number }
  | { kind: 'rotate'; scope: string }
  | { kind: 'destroy'; scope: string; pick: number }
  | { kind: 'rewrap'; scope: string }

const scopeArb = fc.constantFrom('a', 'b', 'c')
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: scopeArb.map((scope) => ({ kind: 'generate' as const, scope })) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: 1, max: 3 * HOUR }).map((ms) => ({ kind: 'advance' as const, ms })),
  },
  { weight: 1, arbitrary: scopeArb.map((scope) => ({ kind: 'rotate' as const, scope })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ scope: scopeArb, pick: fc.nat() })
      .map((r) => ({ kind: 'destroy' as const, ...r })),
  },
  { weight: 1, arbitrary: scopeArb.map((scope) => ({ kind: 'rewrap' as const, scope })) },
)

describe('KeyHierarchy (property)', () => {
  it('keeps its promises under any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const kms = new FakeKms()
        const root = kms.createKey()
        const targets = [kms.createKey(), kms.createKey()]
        let now = Date.parse('2026-06-01T00:00:00Z')
        const store = new MemoryKeyStore()
        const h = new KeyHierarchy({
          kms: kms.client(),
          rootKeyId: root,
          store,
          keyWindowMs: HOUR,
          clock: () => now,
          trustedKeyIds: targets,
        })
        const seen = new Map<string, string>() // "scope/version" -> key hex
        const destroyed = new Set<string>()
        let switches = 0
        for (const op of ops) {
          if (op.kind === 'advance') now += op.ms
          else if (op.kind === 'generate') {
            const k = await h.keyring(op.scope).generateDataKey({})
            const version = k.encryptedDataKeys[0]!.blob
            const id = `${op.scope}/${hex(version)}`
            expect(destroyed.has(id)).toBe(false)
            const first = seen.get(id)
            if (first) expect(hex(k.plaintextKey)).toBe(first)
            else seen.set(id, hex(k.plaintextKey))
            // The version handed out is current: its window contains now.
            expect(k.notAfter).toBeGreaterThan(now)
          } else if (op.kind === 'rotate') {
            const before = (await store.latestVersion(op.scope))?.version ?? 0
            expect((await h.rotate(op.scope)).version).toBe(before + 1)
          } else if (op.kind === 'destroy') {
            const versions = await h.listVersions(op.scope)
            if (versions.length === 0) continue
            const v = versions[op.pick % versions.length]!
            await h.destroy(op.scope, v.version)
            destroyed.add(`${op.scope}/${hex(encodeVersion(v.version))}`)
          } else {
            if ((await h.listVersions(op.scope)).length === 0) continue
            await h.rewrap(op.scope, targets[switches++ % 2]!)
          }
          // Invariant: every version seen unwraps to its first key, or is destroyed.
          for (const [id, key] of seen) {
            const [scope, versionHex] = id.split('/') as [string, string]
            const edk = { type: 2 as const, keyId: scope, blob: Buffer.from(versionHex, 'hex') }
            if (destroyed.has(id)) {
              await expect(h.keyring(scope).decryptDataKey([edk], {})).rejects.toBeInstanceOf(
                KeyDestroyedError,
              )
            } else {
              expect(hex((await h.keyring(scope).decryptDataKey([edk], {})).plaintextKey)).toBe(key)
            }
          }
        }
        // Versions are numbered 1..n without gaps.
        for (const scope of await h.listScopes()) {
          const numbers = (await h.listVersions(scope)).map((v) => v.version)
          expect(numbers).toEqual(numbers.map((_, i) => i + 1))
        }
      }),
      { numRuns: 60 },
    )
  })
})
