import { Envelope, KmsKeyring } from '@kms-envelope/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectFormat, ESDK_SUITES, esdkSuiteOf } from '../src/index.js'
import { COMMIT, LEGACY, LEGACY_SIGNED, SIGNED, type World, world } from './fixtures.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.kms.close())

describe('detectFormat', () => {
  it('recognizes ESDK v1 and v2 messages of each suite family, and names the suite', async () => {
    for (const [suiteId, version, signed] of [
      [SIGNED, 2, true],
      [COMMIT, 2, false],
      [LEGACY, 1, false],
      [LEGACY_SIGNED, 1, true],
    ] as const) {
      const m = await w.esdkEncrypt(Buffer.from('x'), { suiteId })
      expect(detectFormat(m)).toBe('aws-encryption-sdk')
      const suite = esdkSuiteOf(m)!
      expect(suite.id).toBe(suiteId)
      expect(suite.messageVersion).toBe(version)
      expect(suite.signed).toBe(signed)
      expect(m[0]).toBe(version)
    }
  })

  it('recognizes kms-envelope messages (single and framed)', async () => {
    const envelope = new Envelope({ keyring: new KmsKeyring({ client: w.client, generatorKeyId: w.keyA }) })
    expect(detectFormat(await envelope.encrypt('hi', { context: { a: 'b' } }))).toBe('kms-envelope')
    const framed = envelope.encryptStream({ frameLength: 4 })
    const parts: Buffer[] = []
    framed.on('data', (c: Buffer) => parts.push(c))
    framed.end(Buffer.from('hello world'))
    await new Promise((r) => framed.on('end', r))
    expect(detectFormat(Buffer.concat(parts))).toBe('kms-envelope')
  })

  it('says unknown for garbage, short input, and ESDK-looking bytes with an unknown suite', () => {
    expect(detectFormat(new Uint8Array())).toBe('unknown')
    expect(detectFormat(Buffer.from('{"json":true}'))).toBe('unknown')
    expect(detectFormat(Uint8Array.of(0x01, 0x80, 0x03))).toBe('unknown') // v1 cut inside the suite id
    expect(detectFormat(Uint8Array.of(0x01, 0x80, 0x12, 0x34))).toBe('unknown')
    expect(detectFormat(Uint8Array.of(0x02, 0x01, 0x78))).toBe('unknown') // a v1 suite in a v2 header
    expect(detectFormat(Uint8Array.of(0x01, 0x80, 0x04, 0x78))).toBe('unknown') // a v2 suite in a v1 header
    expect(detectFormat(Uint8Array.of(0x01, 0x02, 0x07))).toBe('unknown') // kms-envelope with a bad content type
    expect(detectFormat('0x0180' as unknown as Uint8Array)).toBe('unknown')
  })

  it('never throws and is consistent with esdkSuiteOf on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), (bytes) => {
        const f = detectFormat(bytes)
        expect(['kms-envelope', 'aws-encryption-sdk', 'unknown']).toContain(f)
        expect(f === 'aws-encryption-sdk').toBe(esdkSuiteOf(bytes) !== undefined)
        if (f === 'kms-envelope') expect([bytes[0], bytes[1]]).toEqual([1, 2])
      }),
      { numRuns: 2000 },
    )
  })

  it('the suite table matches the ESDK (every id it lists is readable by the ESDK)', () => {
    expect([...ESDK_SUITES.keys()].sort((a, b) => a - b)).toEqual([
      0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578,
    ])
  })
})
