// Property: any rows, cut into any chunks, import and read back byte for byte.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DatasetGroup } from '../src/index.js'
import { type Fixture, fixture, ROLE } from './fixture.js'

let f: Fixture
let group: DatasetGroup
beforeAll(async () => {
  f = await fixture()
  group = await f.personalize.createDatasetGroup({ name: 'prop', kmsKeyArn: f.cmk, roleArn: ROLE })
})
afterAll(async () => {
  await f.close()
})

describe('round trip', () => {
  it('arbitrary rows and chunkings round-trip; lines are counted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 6 }), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('Interactions' as const, 'Items' as const, 'Users' as const),
        async (rows, cuts, dataset) => {
          const csv = Buffer.from(
            rows.map((r) => `${r.map((c) => c.replace(/\n/g, ' ')).join(',')}\n`).join(''),
          )
          const chunks: Buffer[] = []
          for (let at = 0, i = 0; at < csv.length; i++) {
            const size = cuts[i % cuts.length]!
            chunks.push(csv.subarray(at, at + size))
            at += size
          }
          const result = await group.importDataset(dataset, chunks)
          expect(result.bytes).toBe(csv.length)
          expect(result.lines).toBe(rows.length)
          const back = Buffer.concat(await group.readDataset(dataset).toArray())
          expect(back.equals(csv)).toBe(true)
        },
      ),
      { numRuns: 40 },
    )
  })
})
