/**
 * Grants as real KMS has them: eventually consistent. The local KMS runs with a propagation delay, during
 * which a new grant authorizes a request only if the request carries the grant's token. The library's
 * first calls after CreateGrant must work (it passes the tokens); a caller without them is refused.
 */
import { KeyAccessDeniedError } from '@kms-envelope/core'
import { afterEach, describe, expect, it } from 'vitest'
import { grantName } from '../src/index.js'
import { SERVICE_ROLE, type World, world } from './world.js'

const PROPAGATION_MS = 120_000
const profile = { firstName: 'Ana', email: 'ana@example.com' }

let w: World
let now = 1_700_000_000_000
afterEach(async () => {
  await w.close()
})

/** The service's KMS calls (audit log) of `eventName` on the customer's keys (not its own key's). */
function serviceCalls(eventName: string) {
  return w.kms.engine
    .auditLog()
    .filter(
      (e) =>
        e.userIdentity.arn === SERVICE_ROLE &&
        e.eventName === eventName &&
        e.resources[0]?.ARN !== w.serviceKeyArn,
    )
}

describe('grants that take time to propagate', () => {
  it('the first use right after CreateGrant works because the grant token is passed; without it KMS refuses', async () => {
    const clock = () => now
    w = await world({ clock }, { grantPropagationMs: PROPAGATION_MS, now: clock })
    const keyArn = await w.newKey()
    const ordersKey = await w.newKey('orders')
    const created = await w.domains.createDomain({
      domainName: 'retail-eu',
      defaultKeyArn: keyArn,
      // Pins _order's scope to its key right after the grant: a ReEncrypt-free rewrap with DescribeKey.
      objectTypeKeys: { _order: ordersKey },
      customerKms: w.customer,
    })
    const grant = created.grants.find((g) => g.keyArn === keyArn)!
    const retail = await w.domains.domain('retail-eu')
    await retail.putObject('_profile', 'p-1', profile)
    await retail.putObject('_order', 'o-1', { total: 1 })
    await retail.purge()
    expect(await retail.getObject('_profile', 'p-1')).toEqual(profile)
    // Authorized by the domain's grant, carrying its token.
    const [generate] = serviceCalls('GenerateDataKey')
    expect(generate?.grantId).toBe(grant.grantId)
    expect(generate?.requestParameters.grantTokens).toContain(
      (await w.domainRecord('retail-eu'))!.grants[keyArn]!.grantToken,
    )
    expect(serviceCalls('Decrypt').every((e) => e.errorCode === undefined)).toBe(true)

    // A process that sends no grant token (its view of the domain is "old") is refused during the delay,
    // with the typed error naming the key and the grant.
    const tokenless = await w.otherProcess({ clock, grantTokenTtlMs: 0, cache: false }).domain('retail-eu')
    const err = await tokenless.getObject('_profile', 'p-1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyAccessDeniedError)
    expect((err as KeyAccessDeniedError).keyId).toBe(keyArn)
    expect((err as Error).message).toContain(grant.grantId)
    expect((err as Error).message).toContain(grantName('retail-eu'))
    expect((err as Error).message).toMatch(/not in effect yet/)
    await expect(tokenless.putObject('_profile', 'p-2', profile)).rejects.toBeInstanceOf(KeyAccessDeniedError)

    // Once the grant has propagated, the same process works without the token.
    now += PROPAGATION_MS
    expect(await tokenless.getObject('_profile', 'p-1')).toEqual(profile)
    await tokenless.putObject('_profile', 'p-2', profile)
  })

  it('a key switch right after CreateGrant works (DescribeKey and ReEncrypt with the new grant tokens)', async () => {
    const clock = () => now
    w = await world({ clock }, { grantPropagationMs: PROPAGATION_MS, now: clock })
    const oldKey = await w.newKey('old')
    const newKey = await w.newKey('new')
    await w.domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: oldKey, customerKms: w.customer })
    const retail = await w.domains.domain('retail-eu')
    await retail.putObject('_profile', 'p-1', profile)
    now += PROPAGATION_MS // the old key's grant is in effect for everyone; the new one will not be
    const result = await w.domains.switchKey({
      domainName: 'retail-eu',
      keyArn: newKey,
      customerKms: w.customer,
    })
    expect(result.scopes.flatMap((s) => s.rewrapped)).toEqual([1])
    // The switch described the new key through the new (not yet propagated) DescribeKey grant.
    const after = await w.domains.describeDomain('retail-eu')
    const describe = serviceCalls('DescribeKey')
      .filter((e) => e.errorCode === undefined)
      .at(-1)
    expect(describe?.grantId).toBe(after.grants.find((g) => g.keyArn === newKey)?.describeGrantId)
    expect(serviceCalls('ReEncrypt').at(-1)?.errorCode).toBeUndefined()
    await w.disable(oldKey)
    await retail.purge()
    expect(await retail.getObject('_profile', 'p-1')).toEqual(profile)
    await retail.putObject('_case', 'c-1', { note: 'new type under the new key, at once' })
  })
})
