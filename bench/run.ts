/**
 * `pnpm bench` entry point: runs every benchmark in one process (plus one child process for peak RSS),
 * prints the markdown report, writes bench/results.md (full runs only) and the raw numbers to bench/out/.
 *
 * `pnpm bench -- --quick` (or BENCH_QUICK=1): smoke mode, small counts, writes only to bench/out/.
 */
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type BenchConfig, FULL, QUICK } from './config.js'
import { assertBuiltCore, coreDistExists, coreLine, coreLocation } from './harness/core-location.js'
import { type BenchResults, checkTargets, renderReport } from './report.js'
import { benchKmsCalls } from './suites/kms-calls.js'
import { benchMessages } from './suites/messages.js'
import { benchOverhead } from './suites/overhead.js'
import { benchRss } from './suites/rss.js'
import { benchStream } from './suites/stream.js'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`)

/**
 * Markdown of the scope-key benchmark (bench/scope-bench.ts, `benchScope({ quick })`), if that file exists.
 * A failure there is reported in the output instead of losing the whole run.
 */
async function scopeSection(config: BenchConfig): Promise<string | undefined> {
  const file = here('./scope-bench.ts')
  if (!existsSync(file)) return undefined
  try {
    const mod = (await import(pathToFileURL(file).href)) as {
      benchScope?: (o: { quick: boolean }) => Promise<{ markdown?: string }>
    }
    if (typeof mod.benchScope !== 'function') return undefined
    return (await mod.benchScope({ quick: config.quick })).markdown
  } catch (error) {
    log(`scope benchmark failed: ${(error as Error).message}`)
    return `## Scope keys\n\nThe scope benchmark failed: ${(error as Error).message}`
  }
}

/**
 * Run every suite with `config`.
 *
 * @example
 * ```ts
 * const results = await runAll(QUICK)
 * ```
 */
export async function runAll(config: BenchConfig): Promise<BenchResults> {
  const { context } = config
  log('KMS call counts')
  const kmsCalls = await benchKmsCalls({ ...config.kms, context })
  log('message overhead')
  const overhead = await benchOverhead(context)
  log(`messages at ${config.sizes.join(', ')} bytes`)
  const messages = await benchMessages({
    sizes: config.sizes,
    measure: config.measure,
    context,
    concurrentSize: config.concurrentSize,
    concurrency: config.concurrency,
  })
  log(`${config.stream.bytes / 2 ** 20} MiB streams`)
  const stream = await benchStream({ ...config.stream, context })
  log(
    `peak RSS of a child streaming ${config.rssBytes / 2 ** 20} MiB, ${config.rssRuns}× ours and raw alternately`,
  )
  const rss = await benchRss({ bytes: config.rssBytes, runs: config.rssRuns })
  log('scope-key benchmark (bench/scope-bench.ts)')
  const extra = await scopeSection(config)
  return { messages, stream, rss, overhead, kmsCalls, extra }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
  const config = quick ? QUICK : FULL
  const core = coreLocation()
  // Precondition: the built package is measured whenever there is one (not the sources via tsconfig paths).
  assertBuiltCore(core, coreDistExists())
  log(coreLine(core))
  const started = performance.now()
  const results = await runAll(config)
  const seconds = (performance.now() - started) / 1000
  const checks = checkTargets(results, config)
  const cpu = cpus()
  const meta = [
    `Run ${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
    `× ${cpu.length}, load average ${loadavg()[0]?.toFixed(1)} at the end, ${seconds.toFixed(0)} s in total.`,
  ].join(' ')
  const preamble = `${meta}\n\n${coreLine(core)}.`
  const report = renderReport(results, config, checks, preamble)
  process.stdout.write(`${report}\n`)
  await mkdir(here('./out'), { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  await writeFile(
    here(`./out/results-${quick ? 'quick-' : ''}${stamp}.json`),
    JSON.stringify({ config, core, results, checks }, null, 2),
  )
  if (quick) {
    await writeFile(here('./out/results-quick.md'), report)
  } else {
    await writeFile(here('./results.md'), report)
  }
  const failed = checks.filter((c) => !c.pass)
  log(failed.length ? `FAIL: ${failed.map((c) => c.name).join('; ')}` : 'all targets PASS')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main()
}
