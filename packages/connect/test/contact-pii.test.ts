import {
  EncryptionContextMismatchError,
  KeyDestroyedError,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { describeProtection } from '../src/index.js'
import { type Fixture, fixture, kmsContexts } from './setup.js'

const HOUR = 3_600_000
const contact = { caller: '+1 555 0100', name: 'Ana Silva', transcript: 'change my address to 1 Main St' }

describe('contact PII: a time-limited key per instance', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(() => f.close())

  it('round-trips and names the instance scope key and the contact in the header', async () => {
    const ct = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    expect(await f.connect.decryptContactPii('i-acme', 'c-1', ct)).toEqual(contact)
    const p = describeProtection(ct)
    expect(p.dataClass).toBe('contact-pii')
    expect(p.keys).toEqual([{ type: 'scope-key', scope: 'connect-pii/i-acme', version: 1 }])
    expect(p.context['connect:instance']).toBe('i-acme')
    expect(p.context['connect:contact']).toBe('c-1')
    // The plaintext PII is not visible in the message.
    expect(Buffer.from(ct).includes(Buffer.from('Ana Silva'))).toBe(false)
  })

  it('refuses a record of another instance before any KMS call', async () => {
    const ct = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    f.connect.purge()
    const before = f.calls()
    const err = await f.connect.decryptContactPii('i-globex', 'c-1', ct).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EncryptionContextMismatchError)
    expect((err as EncryptionContextMismatchError).key).toBe('connect:instance')
    expect(f.calls()).toBe(before)
  })

  it('refuses a record of another contact of the same instance before any KMS call', async () => {
    const ct = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    f.connect.purge()
    const before = f.calls()
    const err = await f.connect.decryptContactPii('i-acme', 'c-2', ct).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EncryptionContextMismatchError)
    expect((err as EncryptionContextMismatchError).key).toBe('connect:contact')
    expect((err as Error).message).not.toContain('Ana')
    expect(f.calls()).toBe(before)
  })

  it('gives each instance its own scope key, generated under its own KMS context', async () => {
    const a = describeProtection(await f.connect.encryptContactPii('i-acme', 'c-1', contact))
    const b = describeProtection(await f.connect.encryptContactPii('i-globex', 'c-1', contact))
    expect(a.keys[0]).not.toEqual(b.keys[0])
    const scopes = kmsContexts(f, 'GenerateDataKey').map((c) => c['kms-envelope:scope'])
    expect(scopes).toEqual(['connect-pii/i-acme', 'connect-pii/i-globex'])
    const acme = (await f.connect.piiKeys.listVersions('connect-pii/i-acme'))[0]!
    const globex = (await f.connect.piiKeys.listVersions('connect-pii/i-globex'))[0]!
    expect(acme.windowEnd).toBe(Date.UTC(2026, 0, 1, 11))
    expect(globex.scopeId).not.toBe(acme.scopeId)
  })

  it('moves to a new key version when the window passes; older records still decrypt', async () => {
    const first = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    f.clock.now += 30 * 60_000 // same window
    const same = await f.connect.encryptContactPii('i-acme', 'c-2', contact)
    f.clock.now += HOUR // next window
    const next = await f.connect.encryptContactPii('i-acme', 'c-3', contact)
    expect(describeProtection(first).keys[0]).toMatchObject({ version: 1 })
    expect(describeProtection(same).keys[0]).toMatchObject({ version: 1 })
    expect(describeProtection(next).keys[0]).toMatchObject({ version: 2 })
    expect(f.calls('GenerateDataKey')).toBe(2)
    expect(await f.connect.decryptContactPii('i-acme', 'c-1', first)).toEqual(contact)
    const versions = await f.connect.piiKeys.listVersions('connect-pii/i-acme')
    expect(versions.map((v) => [v.version, v.windowStart, v.windowEnd])).toEqual([
      [1, Date.UTC(2026, 0, 1, 10), Date.UTC(2026, 0, 1, 11)],
      [2, Date.UTC(2026, 0, 1, 11), Date.UTC(2026, 0, 1, 12)],
    ])
  })

  it('keys are time-limited: destroyOlderThan ends the versions past retention; their records → KeyDestroyedError', async () => {
    const old = await f.connect.encryptContactPii('i-acme', 'c-1', contact) // v1: 10:00-11:00
    const otherInstance = await f.connect.encryptContactPii('i-globex', 'c-1', contact)
    f.clock.now += 24 * HOUR
    const recent = await f.connect.encryptContactPii('i-acme', 'c-2', contact) // v2: the next day
    // Keep 12 hours: v1 stopped encrypting 23 h ago, v2 is current.
    expect(await f.connect.piiKeys.destroyOlderThan('connect-pii/i-acme', 12 * HOUR)).toEqual([1])
    f.connect.purge()
    await expect(f.connect.decryptContactPii('i-acme', 'c-1', old)).rejects.toBeInstanceOf(KeyDestroyedError)
    expect(await f.connect.decryptContactPii('i-acme', 'c-2', recent)).toEqual(contact)
    // Retention is per instance: another instance's key is untouched.
    expect(await f.connect.decryptContactPii('i-globex', 'c-1', otherInstance)).toEqual(contact)
  })

  it('makes one KMS call per instance window, not per contact, though each record names its contact', async () => {
    const cts: Uint8Array[] = []
    for (let i = 0; i < 200; i++) cts.push(await f.connect.encryptContactPii('i-acme', `c-${i}`, { i }))
    expect(f.calls('GenerateDataKey')).toBe(1)
    expect(f.calls('Decrypt')).toBe(0)
    expect(describeProtection(cts[7]!).context['connect:contact']).toBe('c-7')
    // A cold cache (as in another process): reading the 200 records unwraps the scope key once.
    f.connect.purge()
    for (let i = 0; i < 200; i++)
      expect(await f.connect.decryptContactPii('i-acme', `c-${i}`, cts[i]!)).toEqual({ i })
    expect(f.calls('GenerateDataKey')).toBe(1)
    expect(f.calls('Decrypt')).toBe(1)
  })

  it('detects a modified record', async () => {
    const ct = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    const bad = Uint8Array.from(ct)
    bad[bad.length - 20]! ^= 1
    await expect(f.connect.decryptContactPii('i-acme', 'c-1', bad)).rejects.toBeInstanceOf(
      TamperedCiphertextError,
    )
  })

  it('forgetInstance crypto-shreds one instance and leaves the others readable', async () => {
    const acme = await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    const globex = await f.connect.encryptContactPii('i-globex', 'c-1', contact)
    expect(await f.connect.forgetInstance('i-acme', { reason: 'instance deleted' })).toEqual([1])
    await expect(f.connect.decryptContactPii('i-acme', 'c-1', acme)).rejects.toBeInstanceOf(KeyDestroyedError)
    await expect(f.connect.encryptContactPii('i-acme', 'c-2', contact)).rejects.toBeInstanceOf(
      KeyDestroyedError,
    )
    expect(await f.connect.decryptContactPii('i-globex', 'c-1', globex)).toEqual(contact)
  })

  it("forgetInstance drops only that instance's cached keys: the others need no new KMS call", async () => {
    await f.connect.encryptContactPii('i-acme', 'c-1', contact)
    const globex = await f.connect.encryptContactPii('i-globex', 'c-1', contact)
    await f.connect.decryptContactPii('i-globex', 'c-1', globex)
    const loads = f.connect.stats().contactPii.loads
    await f.connect.forgetInstance('i-acme')
    await f.connect.encryptContactPii('i-globex', 'c-2', contact)
    expect(await f.connect.decryptContactPii('i-globex', 'c-1', globex)).toEqual(contact)
    expect(f.connect.stats().contactPii.loads).toBe(loads)
  })

  it('forgetInstance drops the cached key even when shredding fails part-way', async () => {
    await f.connect.encryptContactPii('i-acme', 'c-1', contact) // the instance key is now cached
    const updateVersion = f.store.updateVersion.bind(f.store)
    f.store.updateVersion = async () => {
      throw new Error('store unavailable')
    }
    await expect(f.connect.forgetInstance('i-acme')).rejects.toThrow('store unavailable')
    f.store.updateVersion = updateVersion
    // The scope is marked destroyed: no new record under it from this process's cache.
    await expect(f.connect.encryptContactPii('i-acme', 'c-2', contact)).rejects.toBeInstanceOf(
      KeyDestroyedError,
    )
  })

  it('property: any JSON record round-trips, and only for its own contact', async () => {
    const id = fc.stringMatching(/^[A-Za-z0-9-]{1,40}$/)
    await fc.assert(
      fc.asyncProperty(id, id, id, fc.jsonValue(), async (instance, contactId, other, record) => {
        const ct = await f.connect.encryptContactPii(instance, contactId, record)
        expect(await f.connect.decryptContactPii(instance, contactId, ct)).toEqual(
          JSON.parse(JSON.stringify(record)),
        )
        if (other !== contactId) {
          await expect(f.connect.decryptContactPii(instance, other, ct)).rejects.toBeInstanceOf(
            EncryptionContextMismatchError,
          )
        }
      }),
      { numRuns: 40 },
    )
  })
})
