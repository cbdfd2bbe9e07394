// rewrap() with onlyFrom (compare-and-set on the key a switch moves away from), as a contract any KeyStore
// runs (memory and file in core, DynamoDB in keystore-dynamodb): a stale switch does not move a scope back, a version is moved only while still under
// onlyFrom (checked under the store's conditional write), versions under third keys are reported, and a
// switch overtaken by another one passes what it moved on to the scope's new key.
import { GenerateDataKeyCommand } from '@aws-sdk/client-kms'
import { beforeEach, describe, expect, it } from 'vitest'
import { ConfigurationError, KeyDisabledError, KeyStoreError } from '../../src/errors/errors.js'
import { bindingContext } from '../../src/scope/binding.js'
import { KeyHierarchy, type KeyStore, type ScopeKeyVersion } from '../../src/scope/index.js'
import { FakeKms } from './fake-kms.js'

const HOUR = 3_600_000
let kms: FakeKms
let root: string
let b: string
let c: string
let z: string
let now: number

function hierarchy(store: KeyStore): KeyHierarchy {
  return new KeyHierarchy({
    kms: kms.client(),
    rootKeyId: 'alias/service-root',
    store,
    clock: () => now,
    keyWindowMs: HOUR,
    trustedKeyIds: [b, c, z],
  })
}

/** `inner` with some methods replaced (to stage a process that stalls while others run). */
function intercept(inner: KeyStore, overrides: Partial<KeyStore>): KeyStore {
  return new Proxy(inner, {
    get: (target, name) => {
      const own = (overrides as Record<string | symbol, unknown>)[name]
      if (own) return own
      const value = Reflect.get(target, name, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function versions(h: KeyHierarchy, scopeId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.keyring(scopeId).generateDataKey({})
    now += HOUR
  }
}

const keysOf = async (store: KeyStore, scopeId: string) =>
  (await store.listVersions(scopeId)).map((v) => v.wrappingKeyId)

async function conflict(p: Promise<unknown>): Promise<KeyStoreError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(KeyStoreError)
  expect((err as KeyStoreError).reason).toBe('CONFLICT')
  return err as KeyStoreError
}

export function describeRewrapOnlyFrom(name: string, makeStore: () => Promise<KeyStore> | KeyStore): void {
  describe(`rewrap({ onlyFrom }) with the ${name}`, () => {
    beforeEach(() => {
      kms = new FakeKms()
      root = kms.createKey('alias/service-root')
      b = kms.createKey()
      c = kms.createKey()
      z = kms.createKey()
      now = Date.parse('2026-03-01T10:15:00Z')
    })

    it('refuses an onlyFrom that is not a key ARN, before any KMS call', async () => {
      const h = hierarchy(await makeStore())
      kms.calls.length = 0
      await expect(h.rewrap('s', b, { onlyFrom: 'alias/service-root' })).rejects.toBeInstanceOf(
        ConfigurationError,
      )
      await expect(h.rewrap('s', b, { onlyFrom: root.split('/')[1]! })).rejects.toThrow(/key ARN/)
      expect(kms.calls).toEqual([])
    })

    it('switches a scope under the default root key, and resumes one already marked with the target', async () => {
      const store = await makeStore()
      const h = hierarchy(store)
      await versions(h, 's', 3)
      await expect(
        h.rewrap('s', b, {
          onlyFrom: root,
          onProgress: (p) => {
            if (p.done === 1) throw new Error('interrupted')
          },
        }),
      ).rejects.toThrow('interrupted')
      // The scope is under b now (the mark): the same decision resumes.
      const result = await h.rewrap('s', b, { onlyFrom: root })
      expect(result).toEqual({
        scopeId: 's',
        targetKeyId: b,
        rewrapped: [2, 3],
        alreadyDone: [1],
        leftUnder: [],
      })
      expect(await keysOf(store, 's')).toEqual([b, b, b])
      expect((await store.getScope('s'))?.rewrap).toBeUndefined()
    })

    it('a stale switch (A -> B decided before B -> C ran) changes nothing: CONFLICT naming C', async () => {
      const store = await makeStore()
      const h = hierarchy(store)
      await versions(h, 's', 2)
      await h.rewrap('s', b, { onlyFrom: root })
      await h.rewrap('s', c, { onlyFrom: b })
      const before = await store.getScope('s')
      const audit = (await store.listAudit('s')).length
      kms.calls.length = 0
      const err = await conflict(h.rewrap('s', b, { onlyFrom: root }))
      expect(err.message).toContain(`moved on to ${c}`)
      expect(await store.getScope('s')).toEqual(before)
      expect(await keysOf(store, 's')).toEqual([c, c])
      expect(kms.count('ReEncrypt')).toBe(0)
      expect(await store.listAudit('s')).toHaveLength(audit)
    })

    it('a version is moved only while still under onlyFrom (checked under the conditional write)', async () => {
      const inner = await makeStore()
      const h = hierarchy(inner)
      await versions(h, 's', 2)
      // P (A -> B) has read version 1 under A and re-encrypted it; before its write lands, another process
      // takes version 1 elsewhere (an unconditional switch to c, here).
      let other: KeyHierarchy | undefined = hierarchy(inner)
      const p = hierarchy(
        intercept(inner, {
          updateVersion: async (record: ScopeKeyVersion, expected: number) => {
            const o = other
            other = undefined
            if (o) await o.rewrap('s', c)
            return inner.updateVersion(record, expected)
          },
        }),
      )
      const err = await conflict(p.rewrap('s', b, { onlyFrom: root }))
      expect(err.message).toContain(`moved on to ${c}`)
      expect(await keysOf(inner, 's')).toEqual([c, c])
      expect((await inner.getScope('s'))?.rootKeyId).toBe(c)
      // Nothing was written under b.
      expect((await inner.listAudit('s')).filter((e) => e.detail?.includes(`-> ${b}`))).toEqual([])
    })

    it('a switch overtaken mid-run by a later one passes what it moved on, and the later one reports the rest', async () => {
      const inner = await makeStore()
      await versions(hierarchy(inner), 's', 2)
      // P (A -> B) moves version 1, then stalls while Q (B -> C, a later decision) runs to the end.
      let q: KeyHierarchy | undefined = hierarchy(inner)
      let qResult: Awaited<ReturnType<KeyHierarchy['rewrap']>> | undefined
      let gets = 0
      const p = hierarchy(
        intercept(inner, {
          getVersion: async (s: string, v: number) => {
            if (v === 2 && ++gets === 1 && q) {
              const later = q
              q = undefined
              qResult = await later.rewrap('s', c, { onlyFrom: b })
            }
            return inner.getVersion(s, v)
          },
        }),
      )
      const err = await conflict(p.rewrap('s', b, { onlyFrom: root }))
      expect(err.message).toContain(`moved on to ${c}`)
      // Q moved version 1 (under b) and left version 2 (under the root key, a third key for it) alone.
      expect(qResult).toMatchObject({ rewrapped: [1], leftUnder: [{ version: 2, wrappingKeyId: root }] })
      // P still moved version 2 from the root key (its onlyFrom), read the scope after writing, found C and
      // passed version 2 on: nothing is left under b, the key both switches retired.
      expect(await keysOf(inner, 's')).toEqual([c, c])
      expect((await inner.getScope('s'))?.rootKeyId).toBe(c)
      expect((await inner.getScope('s'))?.rewrap).toBeUndefined()
    })

    it('a switch that keeps finding new versions under the old key fails with CONFLICT and keeps its mark', async () => {
      const inner = await makeStore()
      const h = hierarchy(inner)
      await versions(h, 's', 1)
      const [first] = await inner.listVersions('s')
      let next = 100
      // A stream of stale writers: every listing finds one more version under the old key.
      const store = intercept(inner, {
        listVersions: async (scopeId: string) => {
          const list = await inner.listVersions(scopeId)
          const version = next++
          const { CiphertextBlob } = await kms.client().send(
            new GenerateDataKeyCommand({
              KeyId: root,
              KeySpec: 'AES_256',
              EncryptionContext: bindingContext(scopeId, version, first!.context),
            }),
          )
          await inner.createVersion({ ...first!, version, wrappedKey: CiphertextBlob!, revision: 1 })
          return list
        },
      })
      const err = await conflict(hierarchy(store).rewrap('s', b, { onlyFrom: root }))
      expect(err.message).toMatch(/still has versions outside/)
      // Not reported as done: the mark stays (so the caller knows the switch is under way) and the audit has no
      // rewrap-complete line.
      expect((await inner.getScope('s'))?.rewrap?.targetKeyId).toBe(b)
      expect((await inner.listAudit('s')).map((e) => e.action)).not.toContain('rewrap-complete')
    })

    it('leaves versions under a third key alone and reports them, even when that key is disabled', async () => {
      const store = await makeStore()
      const h = hierarchy(store)
      await versions(h, 's', 2)
      // An interrupted switch to z: version 1 under z, version 2 still under the root key.
      await expect(
        h.rewrap('s', z, {
          onProgress: () => {
            throw new Error('interrupted')
          },
        }),
      ).rejects.toThrow('interrupted')
      kms.setState(root, 'Disabled')
      // Without onlyFrom the switch tries to move version 2 and fails on the disabled key.
      await expect(hierarchy(store).rewrap('s', b)).rejects.toBeInstanceOf(KeyDisabledError)
      const result = await h.rewrap('s', c, { onlyFrom: b })
      expect(result.rewrapped).toEqual([1])
      expect(result.leftUnder).toEqual([{ version: 2, wrappingKeyId: root }])
      expect(await keysOf(store, 's')).toEqual([c, root])
      expect((await store.listAudit('s')).at(-1)?.detail).toContain('1 left under other keys')
    })
  })
}
