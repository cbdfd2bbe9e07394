/**
 * switchKey against a concurrent writer: another process (its own ProfileDomains on the same stores) that
 * still holds the domain record from before the switch creates a scope key version while the switch runs.
 * After switchKey resolves, the key switched away from must not be needed: disable it and every object
 * still reads, in a process that starts cold.
 */
import type { KeyStore, ScopeKeyVersion, ScopeRecord } from '@kms-envelope/core'
import { inspect } from '@kms-envelope/core'
import { afterEach, describe, expect, it } from 'vitest'
import { scopeIdOf } from '../src/index.js'
import { type World, world } from './world.js'

const WINDOW_MS = 60_000

let w: World
afterEach(async () => {
  await w?.close()
})

/** A latch the test opens. */
function latch(): { open: () => void; opened: Promise<void> } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

/** Hold one key-store write of `scopeId` (createScope or createVersion) until `release` opens. */
function holdKeyStoreWrite(
  keyStore: KeyStore,
  method: 'createScope' | 'createVersion',
  scopeId: string,
  release: Promise<void>,
): { reached: Promise<void> } {
  const reached = latch()
  const original = keyStore[method].bind(keyStore) as (
    record: ScopeRecord | ScopeKeyVersion,
  ) => Promise<unknown>
  let held = false
  ;(keyStore as unknown as Record<string, unknown>)[method] = async (
    record: ScopeRecord | ScopeKeyVersion,
  ) => {
    if (!held && record.scopeId === scopeId) {
      held = true
      reached.open()
      await release
    }
    return original(record)
  }
  return { reached: reached.opened }
}

/** Run `hook` (once) when the service sends its first RetireGrant: the switch has re-wrapped and verified. */
function beforeFirstRetireGrant(hook: () => Promise<void>): void {
  let fired = false
  w.service.middlewareStack.add(
    (next, context) => async (args) => {
      if (!fired && context.commandName === 'RetireGrantCommand') {
        fired = true
        await hook()
      }
      return next(args)
    },
    { step: 'initialize', name: 'beforeFirstRetireGrant' },
  )
}

/** Run `hook` (once) after the next listScopes() of the key store has read the scopes. */
function afterNextListScopes(hook: () => Promise<void>): void {
  const original = w.keyStore.listScopes.bind(w.keyStore)
  let fired = false
  w.keyStore.listScopes = async () => {
    const ids = await original()
    if (!fired) {
      fired = true
      await hook()
    }
    return ids
  }
}

/** Every object in `expected` reads back in a cold process once `fromKey` is disabled. */
async function readAllWithout(fromKey: string, expected: Record<string, unknown>): Promise<void> {
  await w.disable(fromKey)
  const cold = await w.otherProcess({ cache: false }).domain('retail-eu')
  for (const [slot, value] of Object.entries(expected)) {
    const [type, id] = slot.split('/') as [string, string]
    expect(await cold.getObject(type, id), slot).toEqual(value)
  }
}

/** The distinct wrapping keys of the type's active scope key versions. */
async function activeWrappingKeys(type: string): Promise<string[]> {
  const versions = await w.keyStore.listVersions(scopeIdOf('retail-eu', type))
  return [...new Set(versions.filter((v) => v.state === 'active').map((v) => v.wrappingKeyId))]
}

/** The wrapping key of the scope key version that the stored object references. */
async function wrappingKeyOf(type: string, id: string): Promise<string> {
  const stored = (await w.store.getObject('retail-eu', type, id))!
  const version = inspect(stored.ciphertext).encryptedDataKeys[0]!.version!
  return (await w.keyStore.getVersion(scopeIdOf('retail-eu', type), version))!.wrappingKeyId
}

describe('switchKey with a concurrent writer holding the record from before the switch', () => {
  const cases = [
    {
      name: 'a new object type, created right after the switch lists the scopes',
      hold: 'createScope' as const,
      type: '_case',
      when: 'listed' as const,
    },
    {
      name: 'a new object type, created right before the switch retires the old grant',
      hold: 'createScope' as const,
      type: '_case',
      when: 'retiring' as const,
    },
    {
      name: 'a new version of an existing type (key window roll-over), right before the old grant is retired',
      hold: 'createVersion' as const,
      type: '_profile',
      when: 'retiring' as const,
    },
  ]

  for (const c of cases) {
    it(`domain key: ${c.name}`, async () => {
      let now = 1_000_000
      const clock = () => now
      w = await world({ keyWindowMs: WINDOW_MS, clock })
      const oldKey = await w.newKey('old')
      const newKey = await w.newKey('new')
      await w.domains.createDomain({
        domainName: 'retail-eu',
        defaultKeyArn: oldKey,
        customerKms: w.customer,
      })
      const retail = await w.domains.domain('retail-eu')
      await retail.putObject('_profile', 'p-1', { n: 1 })
      const writer = await w.otherProcess({ keyWindowMs: WINDOW_MS, clock }).domain('retail-eu')
      now += WINDOW_MS // the writer's next write of _profile needs a new version

      const release = latch()
      const held = holdKeyStoreWrite(w.keyStore, c.hold, scopeIdOf('retail-eu', c.type), release.opened)
      const write = writer.putObject(c.type, 'x-1', { late: true })
      await held.reached // the writer has seen the pre-switch record and is about to write its key
      const letWriterFinish = async () => {
        release.open()
        await write.catch(() => undefined)
      }
      if (c.when === 'listed') afterNextListScopes(letWriterFinish)
      else beforeFirstRetireGrant(letWriterFinish)

      const result = await w.domains.switchKey({
        domainName: 'retail-eu',
        keyArn: newKey,
        customerKms: w.customer,
      })
      await write
      expect(result.toKeyArn).toBe(newKey)
      await readAllWithout(oldKey, { '_profile/p-1': { n: 1 }, [`${c.type}/x-1`]: { late: true } })
      expect(await wrappingKeyOf(c.type, 'x-1')).toBe(newKey)
      expect(await activeWrappingKeys(c.type)).toEqual([newKey])
    })
  }

  it('a version the writer created under the old key and could not re-wrap is re-wrapped by the switch', async () => {
    w = await world()
    const oldKey = await w.newKey('old')
    const newKey = await w.newKey('new')
    await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: oldKey, customerKms: w.customer })
    await (await w.domains.domain('retail-eu')).putObject('_profile', 'p-1', { n: 1 })
    const writer = await w.otherProcess().domain('retail-eu')
    const release = latch()
    const held = holdKeyStoreWrite(w.keyStore, 'createScope', scopeIdOf('retail-eu', '_case'), release.opened)
    const write = writer.putObject('_case', 'c-1', { late: true })
    await held.reached
    afterNextListScopes(async () => {
      // The writer's own repair (re-wrapping its new version) fails: it starts a version under the new
      // key instead, and leaves the one under the old key to the switch.
      w.kms.engine.faults.set({ operations: ['ReEncrypt'], error: 'KMSInternalException', count: 1 })
      release.open()
      await write.catch(() => undefined)
    })
    const result = await w.domains.switchKey({
      domainName: 'retail-eu',
      keyArn: newKey,
      customerKms: w.customer,
    })
    await write
    expect(await wrappingKeyOf('_case', 'c-1')).toBe(newKey)
    expect((await w.keyStore.listVersions(scopeIdOf('retail-eu', '_case'))).length).toBe(2)
    expect(await activeWrappingKeys('_case')).toEqual([newKey])
    expect(result.scopes.find((s) => s.scopeId === 'retail-eu/_case')?.rewrapped).toEqual([1])
    await readAllWithout(oldKey, { '_profile/p-1': { n: 1 }, '_case/c-1': { late: true } })
  })

  it('object type key: a new version of the switched type, right before the switch finishes', async () => {
    let now = 1_000_000
    const clock = () => now
    w = await world({ keyWindowMs: WINDOW_MS, clock })
    const domainKey = await w.newKey('domain')
    const ordersKey = await w.newKey('orders')
    await w.domains.createDomain({
      domainName: 'retail-eu',
      defaultKeyArn: domainKey,
      customerKms: w.customer,
    })
    const retail = await w.domains.domain('retail-eu')
    await retail.putObject('_order', 'o-1', { total: 1 })
    await retail.putObject('_profile', 'p-1', { n: 1 })
    const writer = await w.otherProcess({ keyWindowMs: WINDOW_MS, clock }).domain('retail-eu')
    now += WINDOW_MS

    const release = latch()
    const held = holdKeyStoreWrite(
      w.keyStore,
      'createVersion',
      scopeIdOf('retail-eu', '_order'),
      release.opened,
    )
    const write = writer.putObject('_order', 'o-2', { total: 2 })
    await held.reached
    // The domain key keeps its grant (it still protects _profile): hold the writer until the switch's
    // last domain write (its second: the first records the pending switch) instead of a RetireGrant.
    const putDomain = w.store.putDomain.bind(w.store)
    let updates = 0
    w.store.putDomain = async (record, expected) => {
      if (expected !== undefined && ++updates === 2) {
        release.open()
        await write.catch(() => undefined)
      }
      return putDomain(record, expected)
    }
    await w.domains.switchKey({
      domainName: 'retail-eu',
      objectType: '_order',
      keyArn: ordersKey,
      customerKms: w.customer,
    })
    await write
    // _order no longer depends on the domain key: disabling it leaves every order readable.
    await readAllWithout(domainKey, { '_order/o-1': { total: 1 }, '_order/o-2': { total: 2 } })
    expect(await wrappingKeyOf('_order', 'o-2')).toBe(ordersKey)
  })

  for (const earlier of [false, true]) {
    it(`writes during an interrupted switch${earlier ? ' (scopes pinned by an earlier switch)' : ''} add no version under the old key`, async () => {
      w = await world()
      const k0 = await w.newKey('k0')
      const oldKey = earlier ? await w.newKey('k1') : k0
      const newKey = await w.newKey('k2')
      await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: k0, customerKms: w.customer })
      const retail = await w.domains.domain('retail-eu')
      for (const type of ['_a', '_b', '_c']) await retail.putObject(type, 'x-0', { type })
      if (earlier) {
        await w.domains.switchKey({ domainName: 'retail-eu', keyArn: oldKey, customerKms: w.customer })
        await w.disable(k0)
      }
      w.kms.engine.faults.set({ operations: ['ReEncrypt'], error: 'KMSInternalException', count: 1 })
      await expect(
        w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer }),
      ).rejects.toThrow()
      expect((await w.domains.describeDomain('retail-eu')).pendingSwitch?.toKeyArn).toBe(newKey)
      // Another process writes every type mid-switch. A version in a scope the switch has not marked yet and
      // that is pinned to the old key is used as it is (the switch will list and re-wrap it); else (a scope
      // following the default key, or _a, marked before the failed ReEncrypt) the writer first moves the
      // scope to the new key (the switch's own step). Either way no new version.
      const writer = await w.otherProcess({ cache: false }).domain('retail-eu')
      for (const type of ['_a', '_b', '_c']) await writer.putObject(type, 'x-1', { type, late: true })
      for (const type of ['_a', '_b', '_c']) {
        expect((await w.keyStore.listVersions(scopeIdOf('retail-eu', type))).length).toBe(1)
        expect(await activeWrappingKeys(type)).toEqual([earlier && type !== '_a' ? oldKey : newKey])
      }
      await w.domains.switchKey({ domainName: 'retail-eu', keyArn: newKey, customerKms: w.customer })
      for (const type of ['_a', '_b', '_c']) expect(await activeWrappingKeys(type)).toEqual([newKey])
      const expected: Record<string, unknown> = {}
      for (const type of ['_a', '_b', '_c']) {
        expected[`${type}/x-0`] = { type }
        expected[`${type}/x-1`] = { type, late: true }
      }
      await readAllWithout(oldKey, expected)
    })
  }
})

describe('a process that stalls for the length of a whole switch, acting on a decision read before it', () => {
  it('its repair of a scope (re-wrap to the switch target) wakes up after a later switch and moves nothing back', async () => {
    w = await world()
    const keyA = await w.newKey('a')
    const keyB = await w.newKey('b') // also _vip's own key, so the service keeps its grant on it throughout
    const keyC = await w.newKey('c')
    await w.domains.createDomain({
      domainName: 'retail-eu',
      defaultKeyArn: keyA,
      objectTypeKeys: { _vip: keyB },
      customerKms: w.customer,
    })
    await (await w.domains.domain('retail-eu')).putObject('_profile', 'p-1', { n: 1 })
    // A switch A -> B, interrupted: the domain record names B with the switch pending.
    w.kms.engine.faults.set({ operations: ['ReEncrypt'], error: 'KMSInternalException', count: 1 })
    await expect(
      w.domains.switchKey({ domainName: 'retail-eu', keyArn: keyB, customerKms: w.customer }),
    ).rejects.toThrow()

    // Process P (its own KMS client) holds that record. Its write finds _profile's version under A and
    // repairs the scope: re-wrap to B. It stalls right there (the repair's DescribeKey of B)...
    const pClient = w.kms.client({
      accessKeyId: 'service',
      secretAccessKey: 'service-secret',
      maxAttempts: 1,
    })
    const stalled = latch()
    const release = latch()
    let armed = true
    pClient.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input: { KeyId?: string } }).input
        if (armed && context.commandName === 'DescribeKeyCommand' && input.KeyId === keyB) {
          armed = false
          stalled.open()
          await release.opened
        }
        return next(args)
      },
      { step: 'initialize', name: 'stallRepair' },
    )
    const p = await w.otherProcess({ kms: pClient, cache: false }).domain('retail-eu')
    const write = p.putObject('_profile', 'p-2', { n: 2 })
    await stalled.opened

    // ...while the switch to B is finished and a later switch B -> C runs to the end.
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: keyB, customerKms: w.customer })
    await w.domains.switchKey({ domainName: 'retail-eu', keyArn: keyC, customerKms: w.customer })
    const scopeId = scopeIdOf('retail-eu', '_profile')
    expect((await w.keyStore.getScope(scopeId))?.rootKeyId).toBe(keyC)
    expect(await activeWrappingKeys('_profile')).toEqual([keyC])

    // P wakes up: its repair must not take the scope back to B; P reloads the record and writes under C.
    release.open()
    await write
    expect((await w.keyStore.getScope(scopeId))?.rootKeyId).toBe(keyC)
    expect(await activeWrappingKeys('_profile')).toEqual([keyC])
    expect(await wrappingKeyOf('_profile', 'p-2')).toBe(keyC)
    const cold = await w.otherProcess({ cache: false }).domain('retail-eu')
    expect(await cold.getObject('_profile', 'p-1')).toEqual({ n: 1 })
    expect(await cold.getObject('_profile', 'p-2')).toEqual({ n: 2 })
  })
})
