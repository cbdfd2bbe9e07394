import { EncryptionContextMismatchError, TamperedCiphertextError } from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { assertResourceId, describeProtection } from '../src/index.js'
import { type Fixture, fixture, kmsContexts } from './setup.js'

const DAY = 86_400_000
const config = { clientId: 'sf-123', clientSecret: 's3cr3t', endpoint: 'https://example.my.salesforce.com' }

describe('integration configuration: a time-limited key per user account', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(() => f.close())

  it('round-trips under the account scope key', async () => {
    const ct = await f.connect.encryptIntegrationConfig('111122223333', 'salesforce', config)
    expect(await f.connect.decryptIntegrationConfig('111122223333', 'salesforce', ct)).toEqual(config)
    expect(describeProtection(ct)).toMatchObject({
      dataClass: 'integration-config',
      keys: [{ type: 'scope-key', scope: 'connect-integration/111122223333', version: 1 }],
      context: { 'connect:account': '111122223333', 'connect:integration': 'salesforce' },
    })
    expect(Buffer.from(ct).includes(Buffer.from('s3cr3t'))).toBe(false)
  })

  it('binds to the user account and the integration, both checked before any KMS call', async () => {
    const ct = await f.connect.encryptIntegrationConfig('111122223333', 'salesforce', config)
    f.connect.purge()
    const before = f.calls()
    const otherAccount = await f.connect
      .decryptIntegrationConfig('444455556666', 'salesforce', ct)
      .catch((e: unknown) => e)
    expect(otherAccount).toBeInstanceOf(EncryptionContextMismatchError)
    expect(f.calls()).toBe(before)
    const otherIntegration = await f.connect
      .decryptIntegrationConfig('111122223333', 'zendesk', ct)
      .catch((e: unknown) => e)
    expect(otherIntegration).toBeInstanceOf(EncryptionContextMismatchError)
    expect((otherIntegration as EncryptionContextMismatchError).key).toBe('connect:integration')
    expect(f.calls()).toBe(before)
  })

  it('makes one KMS call per account window, not per integration', async () => {
    const cts: Uint8Array[] = []
    for (let i = 0; i < 50; i++)
      cts.push(await f.connect.encryptIntegrationConfig('111122223333', `integration-${i}`, { i }))
    expect(f.calls('GenerateDataKey')).toBe(1)
    expect(f.calls('Decrypt')).toBe(0)
    f.connect.purge()
    for (let i = 0; i < 50; i++)
      expect(await f.connect.decryptIntegrationConfig('111122223333', `integration-${i}`, cts[i]!)).toEqual({
        i,
      })
    expect(f.calls('GenerateDataKey')).toBe(1)
    expect(f.calls('Decrypt')).toBe(1)
  })

  it('uses distinct keys per account, and a new version each day', async () => {
    const a = await f.connect.encryptIntegrationConfig('111122223333', 'salesforce', config)
    const b = await f.connect.encryptIntegrationConfig('444455556666', 'salesforce', config)
    f.clock.now += DAY
    const a2 = await f.connect.encryptIntegrationConfig('111122223333', 'salesforce', config)
    expect(describeProtection(a).keys[0]).toEqual({
      type: 'scope-key',
      scope: 'connect-integration/111122223333',
      version: 1,
    })
    expect(describeProtection(b).keys[0]).toEqual({
      type: 'scope-key',
      scope: 'connect-integration/444455556666',
      version: 1,
    })
    expect(describeProtection(a2).keys[0]).toEqual({
      type: 'scope-key',
      scope: 'connect-integration/111122223333',
      version: 2,
    })
    expect(kmsContexts(f, 'GenerateDataKey')).toEqual([
      {
        service: 'connect',
        'connect:data-class': 'integration-config',
        'kms-envelope:scope': 'connect-integration/111122223333',
        'kms-envelope:version': '1',
      },
      {
        service: 'connect',
        'connect:data-class': 'integration-config',
        'kms-envelope:scope': 'connect-integration/444455556666',
        'kms-envelope:version': '1',
      },
      {
        service: 'connect',
        'connect:data-class': 'integration-config',
        'kms-envelope:scope': 'connect-integration/111122223333',
        'kms-envelope:version': '2',
      },
    ])
    expect(await f.connect.decryptIntegrationConfig('111122223333', 'salesforce', a)).toEqual(config)
  })

  it('a PII scope key cannot stand in for an integration key (data class bound in KMS)', async () => {
    // Same id on both sides: the scopes are distinct (prefixes) and so are their KMS contexts.
    await f.connect.encryptContactPii('111122223333', 'c-1', { x: 1 })
    await f.connect.encryptIntegrationConfig('111122223333', 'salesforce', config)
    expect((await f.connect.piiKeys.listScopes()).sort()).toEqual([
      'connect-integration/111122223333',
      'connect-pii/111122223333',
    ])
    // Copy the PII scope key record over the integration scope's version 1 in the store, as an attacker
    // with write access to the store might: unwrapping fails inside KMS.
    const pii = (await f.store.getVersion('connect-pii/111122223333', 1))!
    const integ = (await f.store.getVersion('connect-integration/111122223333', 1))!
    expect(await f.store.updateVersion({ ...integ, wrappedKey: pii.wrappedKey }, integ.revision)).toBe(true)
    f.connect.purge()
    const ct = await f.connect
      .encryptIntegrationConfig('111122223333', 'salesforce', config)
      .catch((e: unknown) => e)
    expect(ct).toBeInstanceOf(TamperedCiphertextError)
  })

  it('checks resource ids', () => {
    expect(() => assertResourceId('userAccountId', '')).toThrow(/non-empty/)
    expect(() => assertResourceId('userAccountId', 'a\nb')).toThrow(/control characters/)
    expect(() => assertResourceId('userAccountId', 'x'.repeat(200))).toThrow(/UTF-8 bytes/)
    expect(assertResourceId('userAccountId', '111122223333')).toBe('111122223333')
  })
})
