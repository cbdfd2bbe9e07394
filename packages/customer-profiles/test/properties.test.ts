import { EncryptionContextMismatchError } from '@kms-envelope/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertObjectType, type ProfileDomain, scopeIdOf } from '../src/index.js'
import { type World, world } from './world.js'

const objectType = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_-]{0,62}$/)
const objectId = fc.stringMatching(/^[\x21-\x7e]{1,40}$/)

let w: World
let retail: ProfileDomain
beforeAll(async () => {
  w = await world()
  await w.domains.createDomain({
    domainName: 'retail-eu',
    defaultKeyArn: await w.newKey(),
    customerKms: w.customer,
  })
  retail = await w.domains.domain('retail-eu')
})
afterAll(async () => {
  await w.close()
})

describe('properties', () => {
  it('any JSON object round-trips under any object type and id', async () => {
    await fc.assert(
      fc.asyncProperty(objectType, objectId, fc.jsonValue(), async (type, id, value) => {
        const normalized = JSON.parse(JSON.stringify(value)) as unknown
        await retail.putObject(type, id, normalized)
        expect(await retail.getObject(type, id)).toEqual(normalized)
      }),
      { numRuns: 40 },
    )
  })

  it('a ciphertext moved to any other id of the same type never decrypts', async () => {
    await fc.assert(
      fc.asyncProperty(objectId, objectId, async (from, to) => {
        fc.pre(from !== to)
        await retail.putObject('_profile', from, { from })
        const stored = (await w.store.getObject('retail-eu', '_profile', from))!
        await w.store.putObject('retail-eu', { ...stored, objectId: to })
        await expect(retail.getObject('_profile', to)).rejects.toBeInstanceOf(EncryptionContextMismatchError)
      }),
      { numRuns: 25 },
    )
  })

  it('every valid object type yields a valid scope id of at most 128 bytes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9_-]{1,64}$/), objectType, (domain, type) => {
        expect(assertObjectType(type)).toBe(type)
        expect(Buffer.byteLength(scopeIdOf(domain, type))).toBeLessThanOrEqual(128)
      }),
    )
  })
})
