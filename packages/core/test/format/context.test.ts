import { InvalidEncryptionContextError } from '@kms-envelope/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ContextMemo, canonicalContext, contextId } from '../../src/format/context.js'

describe('encryption context', () => {
  it('canonical order is by UTF-8 bytes of the keys, not UTF-16 code units', () => {
    // In UTF-16, U+1F600 (0xD83D…) sorts before U+FF61; in UTF-8 bytes (F0… vs EF…) it sorts after.
    const { context } = canonicalContext({ '\u{1F600}': 'a', '\uFF61': 'b', z: 'c' })
    expect(Object.keys(context)).toEqual(['z', '\uFF61', '\u{1F600}'])
  })

  it('the memo gives the same result (or the same error) as a full canonicalization', () => {
    const memo = new ContextMemo()
    const arb = fc.dictionary(
      fc.string({ maxLength: 6 }),
      fc.oneof(fc.string({ maxLength: 6 }), fc.constant(7 as unknown as string)),
      {
        maxKeys: 4,
      },
    )
    fc.assert(
      fc.property(arb, (ctx) => {
        const run = (f: () => { context: object; pairs: unknown }) => {
          try {
            const r = f()
            return {
              context: { ...r.context },
              id: contextId(canonicalContext(r.context as Record<string, string>, true).pairs),
            }
          } catch (e) {
            return e instanceof InvalidEncryptionContextError ? 'invalid' : e
          }
        }
        const a = run(() => canonicalContext(ctx))
        expect(run(() => memo.canonical(ctx))).toEqual(a)
        expect(run(() => memo.canonical(ctx))).toEqual(a)
      }),
      { numRuns: 500 },
    )
  })

  it('distinct contexts never share a memo entry', () => {
    const memo = new ContextMemo()
    const a = memo.canonical({ 'a\u0000b': 'c' })
    const b = memo.canonical({ a: 'b\u0000c' })
    expect(a.id).not.toBe(b.id)
  })
})
