/**
 * Peak RSS of a separate process streaming a large object (1 GiB in the full run) through encrypt then
 * decrypt streams (see bench/rss-child.mjs), in two modes run alternately: `ours` (our encryptStream →
 * decryptStream) and `raw` (one AES-256-GCM Transform per direction, same imports, source and sink), the
 * floor for that process shape. One run is noisy (±15 MiB), so each mode runs several times and the report
 * gives the median and the range.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { classifyCore, coreDistExists, ROOT } from '../harness/core-location.js'
import { median } from '../harness/measure.js'

const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('../rss-child.mjs', import.meta.url))

/** The child's modes: our streams, or bare AES-256-GCM Transforms. */
export const RSS_MODES = ['ours', 'raw'] as const
/** One of {@link RSS_MODES}. */
export type RssMode = (typeof RSS_MODES)[number]

/** What one child run measured. */
export interface RssRun {
  /** Peak RSS after start-up (modules loaded), before streaming, MiB. */
  readonly baselineMiB: number
  /** Peak RSS of the whole process, MiB (VmHWM on Linux). */
  readonly peakMiB: number
  /** process.resourceUsage().maxRSS of the child, MiB: on Linux inflated by the parent's RSS at fork. */
  readonly maxRssMiB: number
  /** Encrypt + decrypt throughput of the child, MB/s of plaintext. */
  readonly MBps: number
}

/** Several runs of one mode, summarised. */
export interface RssSeries {
  /** Every run, in the order they ran. */
  readonly runs: readonly RssRun[]
  /** Median peak RSS, MiB (what the target checks for `ours`). */
  readonly peakMiB: number
  /** Lowest and highest peak RSS over the runs, MiB. */
  readonly peakRangeMiB: readonly [number, number]
  /** Median peak RSS after start-up, before streaming, MiB. */
  readonly baselineMiB: number
  /** Median of the per-run peak minus start-up, MiB: what streaming itself added. */
  readonly aboveStartMiB: number
  /** Median throughput, MB/s of plaintext. */
  readonly MBps: number
}

/** The peak-RSS measurement: both modes over the same byte count. */
export interface RssResult {
  /** Bytes streamed by every run. */
  readonly bytes: number
  /** `dist`: plain node on the built package (the real figure); `tsx`: no build found, sources via tsx (+~35 MiB). */
  readonly runner: 'dist' | 'tsx'
  readonly ours: RssSeries
  readonly raw: RssSeries
}

/**
 * Summarise the runs of one mode: medians, and the range of the peak.
 *
 * @example
 * ```ts
 * summarizeRss([{ baselineMiB: 60, peakMiB: 100, maxRssMiB: 100, MBps: 1200 }]).aboveStartMiB // 40
 * ```
 */
export function summarizeRss(runs: readonly RssRun[]): RssSeries {
  // Precondition: at least one run (a median of nothing is meaningless).
  if (runs.length === 0) throw new Error('summarizeRss: no runs')
  const peaks = runs.map((r) => r.peakMiB)
  return {
    runs,
    peakMiB: median(peaks),
    peakRangeMiB: [Math.min(...peaks), Math.max(...peaks)],
    baselineMiB: median(runs.map((r) => r.baselineMiB)),
    aboveStartMiB: median(runs.map((r) => r.peakMiB - r.baselineMiB)),
    MBps: median(runs.map((r) => r.MBps)),
  }
}

/** Spawn one child in `mode` and read what it measured. */
async function runChild(bytes: number, mode: RssMode, runner: 'dist' | 'tsx'): Promise<RssRun> {
  const args =
    runner === 'dist' ? [CHILD, String(bytes), mode] : ['--import', 'tsx', CHILD, String(bytes), mode]
  const { stdout } = await run(process.execPath, args, { cwd: ROOT, timeout: 120_000, maxBuffer: 1 << 20 })
  const line = stdout.trim().split('\n').pop() ?? ''
  const r = JSON.parse(line) as {
    mode: string
    bytes: number
    baselineKiB: number
    peakKiB: number
    maxRssKiB: number
    seconds: number
    core: string
  }
  // Postcondition: the child ran the requested mode on the requested bytes.
  if (r.mode !== mode || r.bytes !== bytes) {
    throw new Error(`rss child: asked for ${mode} on ${bytes} B, got ${r.mode} on ${r.bytes} B`)
  }
  const core = classifyCore(r.core)
  // Postcondition: with a build present, the child measured the build, not the sources.
  if (runner === 'dist' && core.kind !== 'dist') {
    throw new Error(`rss child: @kms-envelope/core resolved to ${core.path}, expected packages/core/dist`)
  }
  return {
    baselineMiB: r.baselineKiB / 1024,
    peakMiB: r.peakKiB / 1024,
    maxRssMiB: r.maxRssKiB / 1024,
    MBps: r.bytes / 1e6 / r.seconds,
  }
}

/**
 * Spawn the child `runs` times per mode, alternating ours and raw, one at a time, and summarise each mode.
 *
 * @example
 * ```ts
 * const { ours, raw } = await benchRss({ bytes: 1024 ** 3, runs: 3 })
 * console.log(ours.peakMiB, raw.peakMiB)
 * ```
 */
export async function benchRss(options: { bytes: number; runs: number }): Promise<RssResult> {
  const { bytes, runs } = options
  // Precondition: something to stream, at least one run per mode.
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`benchRss: bad byte count ${bytes}`)
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`benchRss: bad run count ${runs}`)
  const runner = coreDistExists() ? 'dist' : 'tsx'
  const measured: Record<RssMode, RssRun[]> = { ours: [], raw: [] }
  for (let i = 0; i < runs; i++) {
    for (const mode of RSS_MODES) measured[mode].push(await runChild(bytes, mode, runner))
  }
  return { bytes, runner, ours: summarizeRss(measured.ours), raw: summarizeRss(measured.raw) }
}
