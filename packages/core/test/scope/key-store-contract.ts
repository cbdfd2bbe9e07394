// The KeyStore contract, run against every store (memory, file, DynamoDB): create-if-absent, conditional
// updates, ordering, copies, audit. Import it from a *.test.ts file and call it with a store factory.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { KeyStore, ScopeKeyVersion, ScopeRecord } from '../../src/scope/key-store.js'

export function version(scopeId: string, n: number, extra: Partial<ScopeKeyVersion> = {}): ScopeKeyVersion {
  return {
    scopeId,
    version: n,
    state: 'active',
    createdAt: 1_700_000_000_000 + n,
    createdBy: 'test',
    windowStart: 1_700_000_000_000,
    windowEnd: 1_700_003_600_000,
    wrappingKeyId: 'arn:aws:kms:us-east-1:111122223333:key/root',
    wrappedKey: new Uint8Array([n, 1, 2, 3]),
    context: { purpose: 'test' },
    revision: 1,
    ...extra,
  }
}

export function scope(scopeId: string, extra: Partial<ScopeRecord> = {}): ScopeRecord {
  return { scopeId, state: 'active', createdAt: 1_700_000_000_000, revision: 1, ...extra }
}

export function describeKeyStoreContract(name: string, makeStore: () => Promise<KeyStore> | KeyStore): void {
  describe(`KeyStore contract: ${name}`, () => {
    it('creates a version only if absent; the loser gets the existing record', async () => {
      const store = await makeStore()
      const first = await store.createVersion(version('s1', 1, { wrappedKey: new Uint8Array([9, 9]) }))
      expect(first.created).toBe(true)
      const second = await store.createVersion(version('s1', 1, { wrappedKey: new Uint8Array([7, 7]) }))
      expect(second.created).toBe(false)
      expect(Array.from(second.record.wrappedKey!)).toEqual([9, 9])
      expect(Array.from((await store.getVersion('s1', 1))!.wrappedKey!)).toEqual([9, 9])
    })

    it('20 concurrent creators of one version: exactly one wins and all see its record', async () => {
      const store = await makeStore()
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.createVersion(version('race', 1, { wrappedKey: new Uint8Array([i]) })),
        ),
      )
      const winners = results.filter((r) => r.created)
      expect(winners).toHaveLength(1)
      const winnerKey = winners[0]!.record.wrappedKey![0]
      for (const r of results) expect(r.record.wrappedKey![0]).toBe(winnerKey)
    })

    it('latest and list are numeric, ascending; unknown scopes and versions are undefined/empty', async () => {
      const store = await makeStore()
      for (const n of [2, 10, 1, 9]) await store.createVersion(version('nums', n))
      expect((await store.latestVersion('nums'))?.version).toBe(10)
      expect((await store.listVersions('nums')).map((v) => v.version)).toEqual([1, 2, 9, 10])
      expect(await store.latestVersion('none')).toBeUndefined()
      expect(await store.listVersions('none')).toEqual([])
      expect(await store.getVersion('nums', 3)).toBeUndefined()
    })

    it('updates a version only at the expected revision; a destroyed record has no wrapped key', async () => {
      const store = await makeStore()
      await store.createVersion(version('upd', 1))
      const { wrappedKey: _w, ...rest } = version('upd', 1)
      const destroyed: ScopeKeyVersion = {
        ...rest,
        state: 'destroyed',
        revision: 2,
        tombstone: { destroyedAt: 5, destroyedBy: 'alice', reason: 'gdpr' },
      }
      expect(await store.updateVersion(destroyed, 7)).toBe(false)
      expect((await store.getVersion('upd', 1))?.state).toBe('active')
      expect(await store.updateVersion(destroyed, 1)).toBe(true)
      const read = await store.getVersion('upd', 1)
      expect(read?.state).toBe('destroyed')
      expect(read?.wrappedKey).toBeUndefined()
      expect(read?.tombstone).toEqual({ destroyedAt: 5, destroyedBy: 'alice', reason: 'gdpr' })
      expect(read?.revision).toBe(2)
      // The old revision no longer matches.
      expect(await store.updateVersion({ ...destroyed, revision: 3 }, 1)).toBe(false)
      // Updating a version that does not exist fails.
      expect(await store.updateVersion(version('upd', 5, { revision: 2 }), 1)).toBe(false)
    })

    it('concurrent updates at one revision: exactly one succeeds', async () => {
      const store = await makeStore()
      await store.createVersion(version('cu', 1))
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.updateVersion(version('cu', 1, { wrappingKeyId: `k${i}`, revision: 2 }), 1),
        ),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const winner = results.indexOf(true)
      expect((await store.getVersion('cu', 1))?.wrappingKeyId).toBe(`k${winner}`)
    })

    it('returns copies: changing a returned record does not change the store', async () => {
      const store = await makeStore()
      await store.createVersion(version('copy', 1))
      const read = await store.getVersion('copy', 1)
      read!.wrappedKey!.fill(0)
      expect(Array.from((await store.getVersion('copy', 1))!.wrappedKey!)).toEqual([1, 1, 2, 3])
    })

    it('scope records: create-if-absent, conditional update, sorted listing', async () => {
      const store = await makeStore()
      expect(await store.getScope('b')).toBeUndefined()
      expect((await store.createScope(scope('b'))).created).toBe(true)
      expect((await store.createScope(scope('b', { createdAt: 1 }))).created).toBe(false)
      await store.createScope(scope('a'))
      await store.createScope(scope('kunde/ä ö'))
      expect(await store.listScopes()).toEqual(['a', 'b', 'kunde/ä ö'])
      const switched = scope('b', { rootKeyId: 'arn:new', revision: 2 })
      expect(await store.updateScope(switched, 2)).toBe(false)
      expect(await store.updateScope(switched, 1)).toBe(true)
      expect(await store.getScope('b')).toEqual(switched)
      const destroyed = scope('b', {
        state: 'destroyed',
        revision: 3,
        tombstone: { destroyedAt: 9, destroyedBy: 'dpo' },
      })
      expect(await store.updateScope(destroyed, 2)).toBe(true)
      expect(await store.getScope('b')).toEqual(destroyed)
    })

    it('round-trips every optional field: key-switch mark, rewrappedAt, tombstone reason, no window', async () => {
      const store = await makeStore()
      const marked = scope('sw', {
        rootKeyId: 'arn:aws:kms:us-east-1:444455556666:key/cmk',
        rewrap: {
          targetKeyId: 'arn:aws:kms:us-east-1:444455556666:key/cmk',
          startedAt: 42,
          startedBy: 'ops',
        },
      })
      await store.createScope(marked)
      expect(await store.getScope('sw')).toEqual(marked)
      const { wrappedKey: _w, ...rest } = version('sw', 1)
      const full: ScopeKeyVersion = {
        ...rest,
        windowEnd: null,
        context: {},
        rewrappedAt: 77,
        state: 'destroyed',
        tombstone: { destroyedAt: 88, destroyedBy: 'dpo', reason: 'erasure #12' },
      }
      await store.createVersion(full)
      expect(await store.getVersion('sw', 1)).toEqual(full)
    })

    it('audit trail: appended in order, filtered by scope', async () => {
      const store = await makeStore()
      await store.appendAudit({ at: 1, actor: 'svc', action: 'create-version', scopeId: 'x', version: 1 })
      await store.appendAudit({
        at: 2,
        actor: 'alice',
        action: 'destroy-scope',
        scopeId: 'y',
        detail: 'gdpr',
      })
      await store.appendAudit({ at: 3, actor: 'bob', action: 'rotate', scopeId: 'x', version: 2 })
      expect((await store.listAudit()).map((e) => e.at)).toEqual([1, 2, 3])
      expect(await store.listAudit('x')).toEqual([
        { at: 1, actor: 'svc', action: 'create-version', scopeId: 'x', version: 1 },
        { at: 3, actor: 'bob', action: 'rotate', scopeId: 'x', version: 2 },
      ])
      expect(await store.listAudit('y')).toEqual([
        { at: 2, actor: 'alice', action: 'destroy-scope', scopeId: 'y', detail: 'gdpr' },
      ])
    })

    it('round-trips context keys that are special in JavaScript ("__proto__", "constructor", empty values)', async () => {
      const store = await makeStore()
      const context = JSON.parse('{"__proto__":"p","constructor":"c","toString":"","a":"1"}') as Record<
        string,
        string
      >
      await store.createVersion(version('special', 1, { wrappedKey: new Uint8Array([1]), context }))
      const read = await store.getVersion('special', 1)
      expect(Object.entries(read!.context).sort()).toEqual(Object.entries(context).sort())
    })

    it('round-trips any record (property)', async () => {
      const store = await makeStore()
      let n = 0
      await fc.assert(
        fc.asyncProperty(
          fc
            .string({ minLength: 1, maxLength: 40 })
            .filter((s) => [...s].every((c) => c >= ' ' && c !== '\u007f') && !s.startsWith('#')),
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), {
            maxKeys: 4,
          }),
          fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null }),
          async (scopeId, blob, context, windowEnd) => {
            const record = version(scopeId, ++n, { wrappedKey: blob, context, windowEnd })
            await store.createVersion(record)
            const read = await store.getVersion(scopeId, n)
            expect({ ...read, wrappedKey: Array.from(read!.wrappedKey!) }).toEqual({
              ...record,
              wrappedKey: Array.from(blob),
            })
          },
        ),
        { numRuns: 40 },
      )
    })
  })
}
