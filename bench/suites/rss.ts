/**
 * Peak RSS of a separate process streaming a large object (1 GiB by default) through our encrypt then
 * decrypt streams (see bench/rss-child.ts).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('../rss-child.mjs', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CORE_DIST = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url))

/** What the child measured. */
export interface RssResult {
  readonly bytes: number
  /** Peak RSS after start-up (modules loaded), before streaming, MiB. */
  readonly baselineMiB: number
  /** Peak RSS of the whole process, MiB (VmHWM on Linux). */
  readonly peakMiB: number
  /** process.resourceUsage().maxRSS of the child, MiB: on Linux inflated by the parent's RSS at fork. */
  readonly maxRssMiB: number
  /** Encrypt + decrypt throughput of the child, MB/s of plaintext. */
  readonly MBps: number
  /** `dist`: plain node on the built package (the real figure); `tsx`: no build found, sources via tsx (+~35 MiB). */
  readonly runner: 'dist' | 'tsx'
}

/**
 * Spawn the child and read its peak RSS.
 *
 * @example
 * ```ts
 * const { peakMiB } = await benchRss(1024 ** 3)
 * ```
 */
export async function benchRss(bytes: number): Promise<RssResult> {
  const runner = existsSync(CORE_DIST) ? 'dist' : 'tsx'
  const args = runner === 'dist' ? [CHILD, String(bytes)] : ['--import', 'tsx', CHILD, String(bytes)]
  const { stdout } = await run(process.execPath, args, {
    cwd: ROOT,
    timeout: 120_000,
    maxBuffer: 1 << 20,
  })
  const line = stdout.trim().split('\n').pop() ?? ''
  const r = JSON.parse(line) as {
    bytes: number
    baselineKiB: number
    peakKiB: number
    maxRssKiB: number
    seconds: number
  }
  return {
    bytes: r.bytes,
    baselineMiB: r.baselineKiB / 1024,
    peakMiB: r.peakKiB / 1024,
    maxRssMiB: r.maxRssKiB / 1024,
    MBps: r.bytes / 1e6 / r.seconds,
    runner,
  }
}
