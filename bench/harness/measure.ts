/**
 * A fair micro-benchmark loop: warm-up, then several interleaved rounds per subject, median ops/s.
 * Each op is awaited before the next one starts (per-op latency, no pipelining), on the same payload
 * buffers for every subject. Rounds of the compared subjects are interleaved so a noisy neighbour on a
 * shared machine hurts all of them alike.
 *
 * Every round is timed on two clocks: wall time (what a caller sees) and this process's CPU time
 * (process.cpuUsage(): user + system, all threads, so it also charges GC helper threads, and it does not
 * count time the process spent descheduled by other processes' load).
 */

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** One thing to time: `op` runs one operation (sync or async). */
export interface Subject {
  readonly name: string
  readonly op: () => unknown
  /** Run `batch` ops concurrently per step (Promise.all) instead of one awaited op. Default 1. */
  readonly batch?: number
}

/** How long to measure. */
export interface MeasureOptions {
  /** Warm-up time per subject, ms. */
  readonly warmupMs: number
  /** Rounds per subject (the median is reported). */
  readonly rounds: number
  /** Wall-clock duration of one round, ms (a round runs at least `minOps` ops). */
  readonly roundMs: number
  /** Minimum ops per round, whatever the time. Default 3. */
  readonly minOps?: number
}

/** The result for one subject. */
export interface Measurement {
  readonly name: string
  /** Median operations per wall-clock second over the rounds. */
  readonly opsPerSec: number
  /** Median operations per CPU-second of this process over the rounds. */
  readonly opsPerCpuSec: number
  /** Every round's wall-clock ops/s, in run order. */
  readonly rounds: readonly number[]
  /** Every round's ops per CPU-second, in run order. */
  readonly cpuRounds: readonly number[]
}

/** Rates of one timed run on both clocks. */
export interface Rates {
  readonly wall: number
  readonly cpu: number
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * A stopwatch on both clocks: call the returned function to read the ms elapsed since the start.
 *
 * @example
 * ```ts
 * const elapsed = stopwatch(); work(); const { wall, cpu } = elapsed()
 * ```
 */
export function stopwatch(): () => Rates {
  const wall = performance.now()
  const cpu = cpuMs()
  return () => ({ wall: performance.now() - wall, cpu: cpuMs() - cpu })
}

let gcFn: (() => void) | undefined
/**
 * Run a full garbage collection (so one subject's garbage is not collected on another's time).
 *
 * @example
 * ```ts
 * collectGarbage()
 * ```
 */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
}

async function runFor(subject: Subject, ms: number, minOps: number): Promise<Rates> {
  const batch = subject.batch ?? 1
  const op = subject.op
  let ops = 0
  const start = performance.now()
  const elapsed = stopwatch()
  let spent = 0
  while (spent < ms || ops < minOps) {
    if (batch === 1) {
      await op()
    } else {
      const pending: unknown[] = []
      for (let i = 0; i < batch; i++) pending.push(op())
      await Promise.all(pending)
    }
    ops += batch
    // Checking the clock every op costs ~50 ns, negligible next to the ops measured here (>= 1 µs).
    spent = performance.now() - start
  }
  const { wall, cpu } = elapsed()
  return { wall: (ops * 1000) / wall, cpu: (ops * 1000) / Math.max(cpu, 1e-3) }
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * The median of round-by-round ratios `a[i] / b[i]`. Rounds i of two subjects ran back to back, so their
 * ratio cancels most of the load a shared machine adds; a ratio of medians would not.
 *
 * @example
 * ```ts
 * const vsRaw = pairedRatio(ours.rounds, raw.rounds)
 * ```
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length)
  // Precondition: at least one round each.
  if (n === 0) return Number.NaN
  return median(Array.from({ length: n }, (_, i) => (a[i] as number) / (b[i] as number)))
}

/**
 * Measure every subject: a full GC, warm each up, then `rounds` interleaved rounds; median ops/s.
 *
 * @example
 * ```ts
 * const [raw, ours] = await measure([{ name: 'raw', op: rawEncrypt }, { name: 'ours', op: () => env.encrypt(pt) }],
 *   { warmupMs: 200, rounds: 5, roundMs: 200 })
 * ```
 */
export async function measure(subjects: readonly Subject[], options: MeasureOptions): Promise<Measurement[]> {
  const minOps = options.minOps ?? 3
  collectGarbage()
  for (const s of subjects) await runFor(s, options.warmupMs, minOps)
  const wall = subjects.map(() => [] as number[])
  const cpu = subjects.map(() => [] as number[])
  for (let r = 0; r < options.rounds; r++) {
    for (const [i, s] of subjects.entries()) {
      const rates = await runFor(s, options.roundMs, minOps)
      wall[i]?.push(rates.wall)
      cpu[i]?.push(rates.cpu)
    }
  }
  return subjects.map((s, i) => ({
    name: s.name,
    opsPerSec: median(wall[i] ?? []),
    opsPerCpuSec: median(cpu[i] ?? []),
    rounds: wall[i] ?? [],
    cpuRounds: cpu[i] ?? [],
  }))
}
