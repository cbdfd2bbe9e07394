// KeyHierarchy and ScopeKeyring against an in-memory KMS stand-in (FakeKms) and the memory/file stores:
// windows, races, rotation, shredding, key switch, tamper, audit, error mapping.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import fc from 'fast-check'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import {
  InvalidKeyError,
  KeyDestroyedError,
  KeyDisabledError,
  KeyStoreError,
  MalformedCiphertextError,
  TamperedCiphertextError,
} from '../../src/errors/errors.js'
import { WrappingType } from '../../src/keyring/types.js'
import {
  decodeVersion,
  encodeVersion,
  FileKeyStore,
  KeyHierarchy,
  type KeyHierarchyOptions,
  type KeyStore,
  MemoryKeyStore,
} from '../../src/scope/index.js'
import { FakeKms } from './fake-kms.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-03-01T10:15:00Z')

let kms: FakeKms
let root: string
let now: number
let trusted: string[]
const clock = () => now

beforeEach(() => {
  kms = new FakeKms()
  root = kms.createKey('alias/service-root')
  now = T0
  trusted = []
})

/** A customer key the hierarchy may switch scopes to (trusted). */
function trustedKey(alias?: string): string {
  const arn = kms.createKey(alias)
  trusted.push(arn)
  return arn
}

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function hierarchy(store: KeyStore, extra: Partial<KeyHierarchyOptions> = {}): KeyHierarchy {
  return new KeyHierarchy({
    kms: kms.client(),
    rootKeyId: 'alias/service-root',
    store,
    clock,
    keyWindowMs: HOUR,
    trustedKeyIds: trusted,
    ...extra,
  })
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** A store that forwards to `inner` except for the overridden methods (to stage races between processes). */
function intercept(inner: KeyStore, overrides: Partial<KeyStore>): KeyStore {
  const methods = [
    'getScope',
    'createScope',
    'updateScope',
    'listScopes',
    'getVersion',
    'latestVersion',
    'listVersions',
    'createVersion',
    'updateVersion',
    'appendAudit',
    'listAudit',
  ] as const
  const out: Record<string, unknown> = {}
  for (const m of methods) out[m] = overrides[m] ?? (inner[m] as (...a: unknown[]) => unknown).bind(inner)
  return out as unknown as KeyStore
}

describe('ScopeKeyring: current version, windows, binding', () => {
  it('creates version 1 under the root key with the binding context; the EDK references (scope, 1)', async () => {
    const h = hierarchy(new MemoryKeyStore(), { context: { service: 'connect' } })
    const key = await h.keyring('cust-1').generateDataKey({})
    expect(key.plaintextKey).toHaveLength(32)
    expect(key.encryptedDataKeys).toEqual([
      { type: WrappingType.ScopeKey, keyId: 'cust-1', blob: new Uint8Array([1]) },
    ])
    expect(key.notAfter).toBe(Date.parse('2026-03-01T11:00:00Z'))
    expect(kms.calls).toEqual([
      {
        operation: 'GenerateDataKey',
        input: {
          KeyId: 'alias/service-root',
          KeySpec: 'AES_256',
          EncryptionContext: {
            service: 'connect',
            'kms-envelope:scope': 'cust-1',
            'kms-envelope:version': '1',
          },
        },
      },
      // The alias is resolved once, to check that KMS used the root key.
      { operation: 'DescribeKey', input: { KeyId: 'alias/service-root' } },
    ])
    const info = await h.describeVersion('cust-1', 1)
    expect(info).toMatchObject({
      scopeId: 'cust-1',
      version: 1,
      state: 'active',
      wrappingKeyId: root,
      windowStart: Date.parse('2026-03-01T10:00:00Z'),
      windowEnd: Date.parse('2026-03-01T11:00:00Z'),
      createdAt: T0,
    })
    expect(info).not.toHaveProperty('wrappedKey')
  })

  it('reuses the window version (one KMS Decrypt), moves to a new version when the window ends, old ones decrypt', async () => {
    const h = hierarchy(new MemoryKeyStore())
    const ring = h.keyring('cust-1')
    const first = await ring.generateDataKey({})
    const k1 = hex(first.plaintextKey)
    now += 20 * 60_000
    const again = await ring.generateDataKey({})
    expect(hex(again.plaintextKey)).toBe(k1)
    expect(kms.count('GenerateDataKey')).toBe(1)
    expect(kms.calls.find((c) => c.operation === 'Decrypt')).toEqual({
      operation: 'Decrypt',
      input: {
        KeyId: root,
        CiphertextBlob: expect.any(Uint8Array),
        EncryptionContext: { 'kms-envelope:scope': 'cust-1', 'kms-envelope:version': '1' },
      },
    })
    now = Date.parse('2026-03-01T11:00:00Z')
    const next = await ring.generateDataKey({})
    expect(next.encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([2]))
    expect(hex(next.plaintextKey)).not.toBe(k1)
    const old = await ring.decryptDataKey(first.encryptedDataKeys, {})
    expect(hex(old.plaintextKey)).toBe(k1)
    expect((await h.listVersions('cust-1')).map((v) => v.version)).toEqual([1, 2])
  })

  it('without a window a version lasts until rotate()', async () => {
    const h = hierarchy(new MemoryKeyStore(), { keyWindowMs: undefined })
    const a = await h.keyring('s').generateDataKey({})
    expect(a.notAfter).toBeUndefined()
    now += 30 * 24 * HOUR
    const b = await h.keyring('s').generateDataKey({})
    expect(b.encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([1]))
    const rotated = await h.rotate('s', { actor: 'alice' })
    expect(rotated.version).toBe(2)
    expect(rotated.windowEnd).toBeNull()
    expect((await h.keyring('s').generateDataKey({})).encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([2]))
  })

  it('ten hierarchies sharing a store race for the same window: one version, one key', async () => {
    const store = new MemoryKeyStore()
    const keys = await Promise.all(
      Array.from({ length: 10 }, () => hierarchy(store).keyring('race').generateDataKey({})),
    )
    expect((await store.listVersions('race')).map((v) => v.version)).toEqual([1])
    expect(new Set(keys.map((k) => hex(k.plaintextKey))).size).toBe(1)
    // The losers generated a key, lost the create, and unwrapped the winner's.
    expect(kms.count('GenerateDataKey')).toBeGreaterThanOrEqual(1)
    expect(kms.count('GenerateDataKey') + kms.count('Decrypt')).toBeLessThanOrEqual(20)
  })

  it('{ contextKey } picks the scope from the context and refuses a message whose key is of another scope', async () => {
    const h = hierarchy(new MemoryKeyStore())
    const ring = h.keyring({ contextKey: 'tenant' })
    const a = await ring.generateDataKey({ tenant: 'a' })
    const b = await ring.generateDataKey({ tenant: 'b' })
    expect(a.encryptedDataKeys[0]!.keyId).toBe('a')
    expect(hex((await ring.decryptDataKey(b.encryptedDataKeys, { tenant: 'b' })).plaintextKey)).toBe(
      hex(b.plaintextKey),
    )
    // Message context says tenant a, but the key is b's: refused.
    await expect(ring.decryptDataKey(b.encryptedDataKeys, { tenant: 'a' })).rejects.toBeInstanceOf(
      KeyStoreError,
    )
    await expect(ring.generateDataKey({ other: 'x' })).rejects.toMatchObject({ code: 'ERR_CONFIGURATION' })
    await expect(h.keyring('b').decryptDataKey(a.encryptedDataKeys, {})).rejects.toMatchObject({
      reason: 'NOT_FOUND',
    })
  })

  it('maps KMS failures: a disabled root key is KeyDisabledError', async () => {
    kms.setState(root, 'Disabled')
    const err = await hierarchy(new MemoryKeyStore())
      .keyring('x')
      .generateDataKey({})
      .catch((e) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err.cause?.name).toBe('DisabledException')
  })

  it('Postcondition: a KMS that returns a short key is refused', async () => {
    const store = new MemoryKeyStore()
    await hierarchy(store).keyring('p').generateDataKey({})
    const lying = {
      send: async (c: unknown) => ({ ...(await kms.send(c)), Plaintext: new Uint8Array(16) }),
    } as unknown as KMSClient
    const h = new KeyHierarchy({ kms: lying, rootKeyId: root, store, clock, keyWindowMs: HOUR })
    await expect(
      h.keyring('p').decryptDataKey([{ type: 2, keyId: 'p', blob: encodeVersion(1) }], {}),
    ).rejects.toBeInstanceOf(TamperedCiphertextError)
  })

  it('wipes a new scope key when the store cannot record it or its audit line fails', async () => {
    const returned: Uint8Array[] = []
    const spying = {
      send: async (c: unknown) => {
        const out = await kms.send(c)
        if (out.Plaintext instanceof Uint8Array) returned.push(out.Plaintext)
        return out
      },
    } as unknown as KMSClient
    const down = () => new KeyStoreError('UNAVAILABLE', 'the store is down', 'Retry.')
    const noCreate = intercept(new MemoryKeyStore(), {
      createVersion: async () => {
        throw down()
      },
    })
    const noAudit = intercept(new MemoryKeyStore(), {
      appendAudit: async () => {
        throw down()
      },
    })
    for (const store of [noCreate, noAudit]) {
      await expect(hierarchy(store, { kms: spying }).keyring('s').generateDataKey({})).rejects.toBeInstanceOf(
        KeyStoreError,
      )
    }
    expect(returned).toHaveLength(2)
    for (const key of returned) expect(hex(key)).toBe('00'.repeat(32))
  })

  it('version references: canonical LEB128 round trip; junk is malformed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 28 - 1 }), (v) => decodeVersion(encodeVersion(v)) === v),
    )
    expect(() => decodeVersion(new Uint8Array([0x81, 0x00]))).toThrow(MalformedCiphertextError)
    expect(() => decodeVersion(new Uint8Array([1, 1]))).toThrow(MalformedCiphertextError)
    expect(() => decodeVersion(new Uint8Array([0]))).toThrow(MalformedCiphertextError)
    expect(() => encodeVersion(0)).toThrow(RangeError)
  })
})

describe('tamper: the binding is cryptographic', () => {
  it('a wrapped key copied to another scope or version is refused by KMS (TamperedCiphertextError)', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    await h.keyring('victim').generateDataKey({})
    await h.keyring('attacker').generateDataKey({})
    now += HOUR
    await h.keyring('attacker').generateDataKey({})
    const a1 = (await store.getVersion('attacker', 1))!
    // Whole record moved: every field rewritten to look like victim v1; only the KMS context can tell.
    const v1 = (await store.getVersion('victim', 1))!
    await store.updateVersion(
      { ...a1, scopeId: 'victim', version: 1, revision: v1.revision + 1 },
      v1.revision,
    )
    const err = await h
      .keyring('victim')
      .decryptDataKey([{ type: 2, keyId: 'victim', blob: encodeVersion(1) }], {})
      .catch((e) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect(err.cause?.name).toBe('InvalidCiphertextException')
    // Same scope, other version.
    const a2 = (await store.getVersion('attacker', 2))!
    await store.updateVersion({ ...a2, wrappedKey: a1.wrappedKey!, revision: a2.revision + 1 }, a2.revision)
    await expect(
      h.keyring('attacker').decryptDataKey([{ type: 2, keyId: 'attacker', blob: encodeVersion(2) }], {}),
    ).rejects.toBeInstanceOf(TamperedCiphertextError)
  })
})

describe('trusted wrapping keys: write access to the store is not enough', () => {
  it('a version record naming a key outside the configuration is refused before any KMS call', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    const key = await h.keyring('s').generateDataKey({})
    // Someone with store write access and a KMS key of their own plants a key they know under (s, 1).
    const rogue = kms.createKey()
    const planted = await kms.send(
      new GenerateDataKeyCommand({
        KeyId: rogue,
        KeySpec: 'AES_256',
        EncryptionContext: { 'kms-envelope:scope': 's', 'kms-envelope:version': '1' },
      }),
    )
    const v1 = (await store.getVersion('s', 1))!
    await store.updateVersion(
      { ...v1, wrappingKeyId: rogue, wrappedKey: planted.CiphertextBlob as Uint8Array, revision: 2 },
      1,
    )
    const before = kms.count('Decrypt')
    const err = await h
      .keyring('s')
      .decryptDataKey(key.encryptedDataKeys, {})
      .catch((e) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect(err.reason).toBe('NOT_ALLOWED')
    expect(err.keyId).toBe(rogue)
    expect(kms.count('Decrypt')).toBe(before)
    // Encrypting under it is refused too (it is the current version).
    await expect(h.keyring('s').generateDataKey({})).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('a scope record pointing new versions at an untrusted key is refused before GenerateDataKey', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    await h.keyring('s').generateDataKey({})
    const rogue = kms.createKey()
    const scope = (await store.getScope('s'))!
    await store.updateScope({ ...scope, rootKeyId: rogue, revision: scope.revision + 1 }, scope.revision)
    now += HOUR
    const generated = kms.count('GenerateDataKey')
    await expect(h.keyring('s').generateDataKey({})).rejects.toMatchObject({
      reason: 'NOT_ALLOWED',
      keyId: rogue,
    })
    expect(kms.count('GenerateDataKey')).toBe(generated)
  })

  it('rewrap() refuses an untrusted target; a trusted one (list or function) is accepted', async () => {
    const h = hierarchy(new MemoryKeyStore())
    await h.keyring('s').generateDataKey({})
    const other = kms.createKey()
    await expect(h.rewrap('s', other)).rejects.toBeInstanceOf(InvalidKeyError)
    expect(kms.count('ReEncrypt')).toBe(0)
    const byFunction = hierarchy(new MemoryKeyStore(), {
      trustedKeyIds: (arn, scopeId) => arn === other && scopeId === 's',
    })
    await byFunction.keyring('s').generateDataKey({})
    expect((await byFunction.rewrap('s', other)).rewrapped).toEqual([1])
    await expect(byFunction.rewrap('t', other)).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('an alias re-pointed to another key after start is refused (the root is pinned to its ARN)', async () => {
    const h = hierarchy(new MemoryKeyStore())
    await h.keyring('a').generateDataKey({})
    kms.aliases.set('alias/service-root', kms.createKey())
    await expect(h.keyring('b').generateDataKey({})).rejects.toMatchObject({ reason: 'NOT_ALLOWED' })
  })
})

describe('crypto-shredding', () => {
  it('destroy(): decrypt fails with KeyDestroyedError saying when and by whom; a new version is used for new data', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    const ring = h.keyring('cust')
    const key = await ring.generateDataKey({})
    now += 60_000
    const info = await h.destroy('cust', 1, { reason: 'exposed', actor: 'alice@example.com' })
    expect(info).toMatchObject({
      state: 'destroyed',
      tombstone: { destroyedAt: now, destroyedBy: 'alice@example.com', reason: 'exposed' },
    })
    expect((await store.getVersion('cust', 1))!.wrappedKey).toBeUndefined()
    const err = await ring.decryptDataKey(key.encryptedDataKeys, {}).catch((e) => e)
    expect(err).toBeInstanceOf(KeyDestroyedError)
    expect(err.destroyedBy).toBe('alice@example.com')
    expect(err.destroyedAt).toBe(new Date(now).toISOString())
    expect(err.message).toContain('alice@example.com')
    // Even a hierarchy with full KMS access and the same store cannot get it back.
    const kmsCallsBefore = kms.count('Decrypt')
    await expect(
      hierarchy(store).keyring('cust').decryptDataKey(key.encryptedDataKeys, {}),
    ).rejects.toBeInstanceOf(KeyDestroyedError)
    expect(kms.count('Decrypt')).toBe(kmsCallsBefore)
    // Idempotent; new data goes under version 2.
    expect((await h.destroy('cust', 1)).tombstone?.destroyedBy).toBe('alice@example.com')
    expect((await ring.generateDataKey({})).encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([2]))
    await expect(h.destroy('cust', 9)).rejects.toMatchObject({ reason: 'NOT_FOUND' })
  })

  it('a scope marked destroyed refuses decryption even if a crash left its versions untouched; a rerun finishes', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    const key = await h.keyring('half').generateDataKey({})
    // As if destroyScope crashed right after writing the scope tombstone.
    const scope = (await store.getScope('half'))!
    await store.updateScope(
      {
        ...scope,
        state: 'destroyed',
        tombstone: { destroyedAt: now, destroyedBy: 'dpo' },
        revision: scope.revision + 1,
      },
      scope.revision,
    )
    expect((await store.getVersion('half', 1))?.state).toBe('active')
    const decrypts = kms.count('Decrypt')
    const err = await h
      .keyring('half')
      .decryptDataKey(key.encryptedDataKeys, {})
      .catch((e) => e)
    expect(err).toBeInstanceOf(KeyDestroyedError)
    expect(err.destroyedBy).toBe('dpo')
    expect(kms.count('Decrypt')).toBe(decrypts)
    expect(await h.destroyScope('half')).toEqual([1])
    expect((await store.getVersion('half', 1))?.wrappedKey).toBeUndefined()
  })

  it('destroyOlderThan(): destroys versions whose use ended before the retention period, keeps the rest', async () => {
    const h = hierarchy(new MemoryKeyStore())
    for (let i = 0; i < 5; i++) {
      await h.keyring('r').generateDataKey({})
      now += HOUR
    }
    // now = 15:15; versions 1..5 cover 10:00..15:00; version 5's window ended at 15:00.
    const destroyed = await h.destroyOlderThan('r', 2 * HOUR + 30 * 60_000, { actor: 'retention-job' })
    // cutoff 12:45: windows ending at 11:00 and 12:00 are gone.
    expect(destroyed).toEqual([1, 2])
    expect((await h.listVersions('r')).map((v) => v.state)).toEqual([
      'destroyed',
      'destroyed',
      'active',
      'active',
      'active',
    ])
    expect(await h.destroyOlderThan('r', 2 * HOUR + 30 * 60_000)).toEqual([])
  })

  it('destroyOlderThan() counts a rotation as the end of use of the previous version', async () => {
    const h = hierarchy(new MemoryKeyStore(), { keyWindowMs: undefined })
    await h.keyring('r').generateDataKey({})
    now += 10 * HOUR
    await h.rotate('r')
    now += 5 * HOUR
    expect(await h.destroyOlderThan('r', 6 * HOUR)).toEqual([])
    expect(await h.destroyOlderThan('r', 4 * HOUR)).toEqual([1])
  })

  it('destroyScope(): every version destroyed, new keys refused, audit records it', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store, { actor: 'svc' })
    const k1 = await h.keyring('gone').generateDataKey({})
    now += HOUR
    await h.keyring('gone').generateDataKey({})
    expect(await h.destroyScope('gone', { reason: 'GDPR erasure', actor: 'dpo' })).toEqual([1, 2])
    await expect(h.keyring('gone').decryptDataKey(k1.encryptedDataKeys, {})).rejects.toBeInstanceOf(
      KeyDestroyedError,
    )
    const err = await h
      .keyring('gone')
      .generateDataKey({})
      .catch((e) => e)
    expect(err).toBeInstanceOf(KeyDestroyedError)
    expect(err.message).toContain('Scope "gone"')
    await expect(h.rotate('gone')).rejects.toBeInstanceOf(KeyDestroyedError)
    expect((await h.scope('gone'))?.state).toBe('destroyed')
    expect((await h.audit('gone')).map((e) => [e.action, e.actor, e.version])).toEqual([
      ['create-version', 'svc', 1],
      ['create-version', 'svc', 2],
      ['destroy-scope', 'dpo', undefined],
      ['destroy-version', 'dpo', 1],
      ['destroy-version', 'dpo', 2],
    ])
  })

  it.each(['before', 'after'] as const)(
    'a version written while the scope is being destroyed (destroy runs %s the write) does not survive',
    async (order) => {
      const inner = new MemoryKeyStore()
      let admin: KeyHierarchy | undefined = hierarchy(inner)
      // "Another process" destroys the scope right before/after the version is written, after the creator
      // read the scope as active.
      const racing = intercept(inner, {
        createVersion: async (r) => {
          const a = admin
          admin = undefined
          if (a && order === 'before') await a.destroyScope('late', { actor: 'dpo' })
          const result = await inner.createVersion(r)
          if (a && order === 'after') await a.destroyScope('late', { actor: 'dpo' })
          return result
        },
      })
      const err = await hierarchy(racing)
        .keyring('late')
        .generateDataKey({})
        .catch((e) => e)
      expect(err).toBeInstanceOf(KeyDestroyedError)
      expect(err.destroyedBy).toBe('dpo')
      expect((await inner.listVersions('late')).map((v) => [v.state, v.wrappedKey])).toEqual([
        ['destroyed', undefined],
      ])
    },
  )
})

describe('key switch (rewrap)', () => {
  it('re-wraps every version with ReEncrypt only, new versions use the new key, data still decrypts', async () => {
    const store = new MemoryKeyStore()
    const h = hierarchy(store)
    const keys = []
    for (let i = 0; i < 3; i++) {
      keys.push(await h.keyring('c').generateDataKey({}))
      now += HOUR
    }
    const cmk = trustedKey('alias/customer-cmk')
    kms.calls.length = 0
    const progress: number[] = []
    const result = await h.rewrap('c', 'alias/customer-cmk', {
      onProgress: (p) => progress.push(p.done),
      actor: 'ops',
    })
    expect(result).toEqual({
      scopeId: 'c',
      targetKeyId: cmk,
      rewrapped: [1, 2, 3],
      alreadyDone: [],
      leftUnder: [],
    })
    expect(progress).toEqual([1, 2, 3])
    // No plaintext scope key left KMS: only DescribeKey and ReEncrypt.
    expect(kms.calls.map((c) => c.operation)).toEqual(['DescribeKey', 'ReEncrypt', 'ReEncrypt', 'ReEncrypt'])
    expect(kms.calls[1]!.input).toMatchObject({
      SourceKeyId: root,
      DestinationKeyId: cmk,
      SourceEncryptionContext: { 'kms-envelope:scope': 'c', 'kms-envelope:version': '1' },
      DestinationEncryptionContext: { 'kms-envelope:scope': 'c', 'kms-envelope:version': '1' },
    })
    expect((await h.listVersions('c')).map((v) => v.wrappingKeyId)).toEqual([cmk, cmk, cmk])
    // The old root key can go away; everything still decrypts to the same keys.
    kms.setState(root, 'Disabled')
    for (const k of keys) {
      expect(hex((await h.keyring('c').decryptDataKey(k.encryptedDataKeys, {})).plaintextKey)).toBe(
        hex(k.plaintextKey),
      )
    }
    // New versions of this scope are created under the customer key.
    const fresh = await h.keyring('c').generateDataKey({})
    expect(fresh.encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([4]))
    expect((await h.describeVersion('c', 4)).wrappingKeyId).toBe(cmk)
    expect((await h.scope('c'))?.rootKeyId).toBe(cmk)
    expect((await h.scope('c'))?.rewrap).toBeUndefined()
    expect((await h.audit('c')).map((e) => e.action)).toEqual([
      'create-version',
      'create-version',
      'create-version',
      'rewrap-start',
      'rewrap-version',
      'rewrap-version',
      'rewrap-version',
      'rewrap-complete',
      'create-version',
    ])
  })

  it('is resumable: an interrupted switch leaves a mark, the rerun skips the versions done', async () => {
    const h = hierarchy(new MemoryKeyStore())
    for (let i = 0; i < 4; i++) {
      await h.keyring('c').generateDataKey({})
      now += HOUR
    }
    const cmk = trustedKey()
    await expect(
      h.rewrap('c', cmk, {
        onProgress: (p) => {
          if (p.done === 2) throw new Error('interrupted')
        },
      }),
    ).rejects.toThrow('interrupted')
    expect((await h.scope('c'))?.rewrap?.targetKeyId).toBe(cmk)
    const result = await h.rewrap('c', cmk)
    expect(result.alreadyDone).toEqual([1, 2])
    expect(result.rewrapped).toEqual([3, 4])
    expect(kms.count('ReEncrypt')).toBe(4)
    expect((await h.scope('c'))?.rewrap).toBeUndefined()
  })

  it('a reader holding a record read before the switch still decrypts after the old key is disabled', async () => {
    const inner = new MemoryKeyStore()
    const h = hierarchy(inner)
    const key = await h.keyring('c').generateDataKey({})
    const stale = (await inner.getVersion('c', 1))!
    const cmk = trustedKey()
    await h.rewrap('c', cmk)
    kms.setState(root, 'Disabled')
    // The first read returns the pre-switch record (as if read just before the switch committed).
    let served = false
    const racing = intercept(inner, {
      getVersion: async (s: string, v: number) => {
        if (!served) {
          served = true
          return stale
        }
        return inner.getVersion(s, v)
      },
    })
    const reader = hierarchy(racing)
    const got = await reader.keyring('c').decryptDataKey(key.encryptedDataKeys, {})
    expect(hex(got.plaintextKey)).toBe(hex(key.plaintextKey))
  })

  it('a version written while a switch runs (after the switch listed versions) ends up under the new key', async () => {
    const inner = new MemoryKeyStore()
    await hierarchy(inner).keyring('c').generateDataKey({})
    now += HOUR
    const cmk = trustedKey()
    let admin: KeyHierarchy | undefined = hierarchy(inner)
    const racing = intercept(inner, {
      createVersion: async (r) => {
        const a = admin
        admin = undefined
        if (a) await a.rewrap('c', cmk)
        return inner.createVersion(r)
      },
    })
    const key = await hierarchy(racing).keyring('c').generateDataKey({})
    expect(key.encryptedDataKeys[0]!.blob).toEqual(new Uint8Array([2]))
    expect((await inner.listVersions('c')).map((v) => v.wrappingKeyId)).toEqual([cmk, cmk])
    kms.setState(root, 'Disabled')
    const back = await hierarchy(inner).keyring('c').decryptDataKey(key.encryptedDataKeys, {})
    expect(hex(back.plaintextKey)).toBe(hex(key.plaintextKey))
  })

  it('refuses a target key that is disabled', async () => {
    const h = hierarchy(new MemoryKeyStore())
    await h.keyring('c').generateDataKey({})
    const cmk = trustedKey()
    kms.setState(cmk, 'Disabled')
    await expect(h.rewrap('c', cmk)).rejects.toBeInstanceOf(KeyDisabledError)
  })
})

describe('with the FileKeyStore', () => {
  it('round trip, rotate, destroy, audit persisted for another instance', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'kenv-h-'))
    dirs.push(directory)
    const h = hierarchy(new FileKeyStore({ directory }), { actor: 'svc-a' })
    const k1 = await h.keyring('inst/1').generateDataKey({})
    await h.rotate('inst/1', { actor: 'alice' })
    const other = hierarchy(new FileKeyStore({ directory }))
    expect(hex((await other.keyring('inst/1').decryptDataKey(k1.encryptedDataKeys, {})).plaintextKey)).toBe(
      hex(k1.plaintextKey),
    )
    expect((await other.keyring('inst/1').generateDataKey({})).encryptedDataKeys[0]!.blob).toEqual(
      new Uint8Array([2]),
    )
    await h.destroy('inst/1', 1, { actor: 'bob' })
    await expect(other.keyring('inst/1').decryptDataKey(k1.encryptedDataKeys, {})).rejects.toBeInstanceOf(
      KeyDestroyedError,
    )
    expect((await other.audit()).map((e) => `${e.action}:${e.actor}`)).toEqual([
      'create-version:svc-a',
      'rotate:alice',
      'destroy-version:bob',
    ])
    expect(await other.listScopes()).toEqual(['inst/1'])
  })
})

describe('configuration checks', () => {
  it('refuses bad options with ConfigurationError', () => {
    const store = new MemoryKeyStore()
    expect(() => new KeyHierarchy({ kms: kms.client(), rootKeyId: '', store })).toThrow(/root KMS key/)
    expect(() => new KeyHierarchy({ kms: kms.client(), rootKeyId: root, store, keyWindowMs: 10 })).toThrow(
      /keyWindowMs/,
    )
    expect(
      () =>
        new KeyHierarchy({
          kms: kms.client(),
          rootKeyId: root,
          store,
          context: { 'kms-envelope:scope': 'x' },
        }),
    ).toThrow(/reserved/)
    const h = new KeyHierarchy({ kms: kms.client(), rootKeyId: root, store })
    expect(() => h.keyring('')).toThrow(/scope id/)
    expect(() => h.keyring('#x')).toThrow(/scope id/)
    expect(() => h.keyring('a\nb')).toThrow(/scope id/)
    expect(() => h.keyring('x'.repeat(129))).toThrow(/scope id/)
  })
})
