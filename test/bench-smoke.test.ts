/**
 * Smoke test of the benchmark harness (bench/): every piece runs with tiny counts and returns well-formed
 * results; the KMS call counts are exact. Speed is never asserted here.
 */
import { describe, expect, it } from 'vitest'
import { FULL, QUICK } from '../bench/config.js'
import { assertBuiltCore, classifyCore, coreLine } from '../bench/harness/core-location.js'
import { FakeKms } from '../bench/harness/fake-kms.js'
import { measure, median, pairedRatio } from '../bench/harness/measure.js'
import { type BenchResults, checkTargets, renderReport } from '../bench/report.js'
import { benchKmsCalls } from '../bench/suites/kms-calls.js'
import { benchMessages, MESSAGE_SUBJECTS } from '../bench/suites/messages.js'
import { benchOverhead } from '../bench/suites/overhead.js'
import { benchRss, summarizeRss } from '../bench/suites/rss.js'
import { benchStream, STREAM_SUBJECTS } from '../bench/suites/stream.js'

const context = { tenant: 'acme', purpose: 'demo' }
const tiny = { warmupMs: 1, rounds: 2, roundMs: 2, minOps: 2 }

const positive = (n: number) => Number.isFinite(n) && n > 0

describe('bench harness', () => {
  it('measure() reports the median of its rounds for every subject', async () => {
    let calls = 0
    const results = await measure(
      [
        { name: 'a', op: () => calls++ },
        { name: 'b', op: async () => calls++, batch: 4 },
      ],
      { warmupMs: 1, rounds: 3, roundMs: 1 },
    )
    expect(results.map((r) => r.name)).toEqual(['a', 'b'])
    for (const r of results) {
      expect(r.rounds).toHaveLength(3)
      expect(positive(r.opsPerSec)).toBe(true)
      expect(r.opsPerSec).toBeGreaterThanOrEqual(Math.min(...r.rounds))
      expect(r.opsPerSec).toBeLessThanOrEqual(Math.max(...r.rounds))
    }
    expect(calls).toBeGreaterThan(0)
  })

  it('median() and pairedRatio() (median of round-by-round ratios)', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(pairedRatio([2, 9, 6], [1, 3, 3])).toBe(2)
    expect(pairedRatio([], [1])).toBeNaN()
  })

  it('core location: dist vs src, and a loud failure on sources when a build exists', () => {
    const root = '/repo'
    const dist = classifyCore('file:///repo/packages/core/dist/index.js', root)
    const src = classifyCore('file:///repo/packages/core/src/index.ts', root)
    expect(dist).toEqual({ path: 'packages/core/dist/index.js', kind: 'dist' })
    expect(src).toEqual({ path: 'packages/core/src/index.ts', kind: 'src' })
    expect(classifyCore('file:///elsewhere/core/index.js', root).kind).toBe('other')
    expect(coreLine(dist)).toMatch(/^core: packages\/core\/dist\/index\.js /)
    expect(() => assertBuiltCore(src, true)).toThrow(/packages\/core\/src\/index\.ts/)
    expect(() => assertBuiltCore(src, false)).not.toThrow()
    expect(() => assertBuiltCore(dist, true)).not.toThrow()
  })

  it('summarizeRss(): median and range of the peak, median peak above start-up', () => {
    const run = (baselineMiB: number, peakMiB: number) => ({
      baselineMiB,
      peakMiB,
      maxRssMiB: peakMiB,
      MBps: 1,
    })
    const s = summarizeRss([run(60, 120), run(62, 99), run(58, 104)])
    expect(s.peakMiB).toBe(104)
    expect(s.peakRangeMiB).toEqual([99, 120])
    expect(s.baselineMiB).toBe(60)
    // Per-run differences 60, 37, 46: the median of those, not median(peak) - median(baseline) = 44.
    expect(s.aboveStartMiB).toBe(46)
    expect(s.runs).toHaveLength(3)
    expect(() => summarizeRss([])).toThrow(/no runs/)
  })

  it('the fake KMS counts calls and decrypts what it generated', async () => {
    const kms = new FakeKms()
    const generated = await kms.generateDataKey({ KeyId: 'arn:aws:kms:us-east-1:111122223333:key/k' })
    expect(generated.CiphertextBlob).toHaveLength(184)
    const decrypted = await kms.decrypt({ CiphertextBlob: generated.CiphertextBlob })
    expect(Buffer.from(decrypted.Plaintext ?? []).equals(Buffer.from(generated.Plaintext ?? []))).toBe(true)
    await expect(kms.decrypt({ CiphertextBlob: new Uint8Array(184) })).rejects.toThrow(/unknown/)
    expect(kms.calls).toEqual({ generateDataKey: 1, encrypt: 0, decrypt: 2 })
  })

  it('KMS calls: exactly one GenerateDataKey per maxPerKey messages, and one for concurrent cold encrypts', async () => {
    const r = await benchKmsCalls({ ...FULL.kms, context, includeEsdk: false })
    expect(r.sequential).toMatchObject({ messages: 10_000, maxPerKey: 1000, ours: 10 })
    expect(r.concurrent).toMatchObject({ messages: 1000, ours: 1 })
    expect(r.sequential.esdk).toBeUndefined()
    // The ESDK side, on fewer messages: its caching CMM has no single-flight, each cold encrypt asks KMS.
    const e = await benchKmsCalls({ messages: 50, maxPerKey: 10, concurrent: 20, context })
    expect(e.sequential).toMatchObject({ ours: 5, esdk: 5 })
    expect(e.concurrent.ours).toBe(1)
    expect(e.concurrent.esdk).toBeGreaterThan(1)
  })

  it('messages: one row per size and op, with every subject measured', async () => {
    const rows = await benchMessages({
      sizes: [256],
      measure: tiny,
      context,
      concurrentSize: 256,
      concurrency: 4,
    })
    expect(rows.map((r) => [r.size, r.op, r.concurrency])).toEqual([
      [256, 'encrypt', 1],
      [256, 'decrypt', 1],
      [256, 'encrypt', 4],
      [256, 'decrypt', 4],
    ])
    for (const row of rows) for (const s of MESSAGE_SUBJECTS) expect(positive(row.opsPerSec[s])).toBe(true)
  })

  it('overhead: byte counts for ours and both ESDK suites', async () => {
    const o = await benchOverhead(context)
    expect(o.plaintextBytes).toBe(1024)
    for (const n of [o.ours, o.oursCompact, o.esdkNonSigning, o.esdkDefault])
      expect(Number.isInteger(n) && n > 184).toBe(true)
    // Compact leaves the context and the key ARN out: exactly their encoded size less.
    expect(o.oursCompact).toBeLessThan(o.ours - o.oursKeyIdBytes)
    // The signed suite adds a signature and a public key to the non-signing one.
    expect(o.esdkDefault).toBeGreaterThan(o.esdkNonSigning)
  })

  it('streams and the peak-RSS child, then a report with every target', async () => {
    const stream = await benchStream({
      bytes: 1 << 20,
      chunkSize: 64 * 1024,
      rounds: 1,
      esdkRounds: 1,
      context,
    })
    for (const s of STREAM_SUBJECTS) {
      expect(positive(stream.encryptMBps[s])).toBe(true)
      expect(positive(stream.decryptMBps[s])).toBe(true)
    }
    const rss = await benchRss({ bytes: 4 << 20, runs: 2 })
    expect(rss.bytes).toBe(4 << 20)
    for (const series of [rss.ours, rss.raw]) {
      expect(series.runs).toHaveLength(2)
      for (const r of series.runs) {
        expect(r.peakMiB).toBeGreaterThanOrEqual(r.baselineMiB)
        expect(positive(r.MBps)).toBe(true)
      }
      expect(series.peakMiB).toBeGreaterThanOrEqual(series.peakRangeMiB[0])
      expect(series.peakMiB).toBeLessThanOrEqual(series.peakRangeMiB[1])
    }
    const results: BenchResults = {
      messages: await benchMessages({ sizes: [1024], measure: tiny, context }),
      stream,
      rss,
      overhead: await benchOverhead(context),
      kmsCalls: await benchKmsCalls({ messages: 20, maxPerKey: 10, concurrent: 5, context }),
    }
    const checks = checkTargets(results, { ...QUICK, kms: { messages: 20, maxPerKey: 10, concurrent: 5 } })
    expect(checks).toHaveLength(9)
    expect(checks.find((c) => c.name.startsWith('KMS calls, 20'))?.pass).toBe(true)
    const md = renderReport(results, QUICK, checks, 'meta')
    expect(md).toContain('| Case | Op | raw AES-GCM |')
    expect(md).toContain('## Targets (issue 2)')
    expect(md.match(/\| (PASS|FAIL) \|/g)).toHaveLength(9)
    expect(md).toContain('| ours: encryptStream → decryptStream |')
    expect(md).toContain('| raw: one AES-256-GCM Transform per direction (floor) |')
    expect(checks.find((c) => c.name.endsWith('stream peak RSS'))?.measured).toBe(
      `${rss.ours.peakMiB.toFixed(1)} MiB`,
    )
  }, 60_000)
})
