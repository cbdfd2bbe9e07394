/** Benchmark parameters: the full run (`pnpm bench`, ~2 minutes) and the smoke run (`pnpm bench -- --quick`). */
import type { MeasureOptions } from './harness/measure.js'

/** Everything a run needs to know. */
export interface BenchConfig {
  readonly quick: boolean
  readonly context: Record<string, string>
  readonly sizes: readonly number[]
  readonly measure: MeasureOptions
  /** A size also measured with `concurrency` ops in flight. */
  readonly concurrentSize: number
  readonly concurrency: number
  readonly stream: {
    readonly bytes: number
    readonly chunkSize: number
    readonly rounds: number
    readonly esdkRounds: number
  }
  /** Bytes each peak-RSS child streams. */
  readonly rssBytes: number
  /** Peak-RSS child runs per mode (ours and raw, alternating). */
  readonly rssRuns: number
  readonly kms: { readonly messages: number; readonly maxPerKey: number; readonly concurrent: number }
}

const KiB = 1024
const MiB = 1024 * KiB
const context = { tenant: 'acme', purpose: 'demo' }

/** The full run. */
export const FULL: BenchConfig = {
  quick: false,
  context,
  sizes: [256, KiB, 64 * KiB, MiB],
  measure: { warmupMs: 300, rounds: 21, roundMs: 60 },
  concurrentSize: KiB,
  concurrency: 16,
  stream: { bytes: 64 * MiB, chunkSize: 64 * KiB, rounds: 11, esdkRounds: 2 },
  rssBytes: 1024 * MiB,
  rssRuns: 3,
  kms: { messages: 10_000, maxPerKey: 1000, concurrent: 1000 },
}

/** The smoke run: every piece, small counts; numbers are indicative only. */
export const QUICK: BenchConfig = {
  ...FULL,
  quick: true,
  measure: { warmupMs: 30, rounds: 3, roundMs: 40 },
  stream: { bytes: 8 * MiB, chunkSize: 64 * KiB, rounds: 2, esdkRounds: 1 },
  rssBytes: 64 * MiB,
}
