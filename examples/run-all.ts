/**
 * `pnpm demo`: every example, end to end, against the embedded local KMS. Exits non-zero if one fails.
 */
import { readdirSync } from 'node:fs'

const here = new URL('.', import.meta.url)
const examples = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run-all.ts', 'is-main.ts'].includes(f))
  .sort((a, b) => (a === 'quickstart.ts' ? -1 : b === 'quickstart.ts' ? 1 : a.localeCompare(b)))

let failed = 0
for (const file of examples) {
  console.log(`\n=== ${file} ${'='.repeat(Math.max(0, 60 - file.length))}`)
  const started = Date.now()
  try {
    const mod = (await import(new URL(file, here).href)) as {
      main?: (log?: (l: string) => void) => Promise<void>
    }
    if (typeof mod.main !== 'function') throw new Error(`${file} does not export main()`)
    await mod.main((line) => console.log(`  ${line}`))
    console.log(`  ok (${Date.now() - started} ms)`)
  } catch (err) {
    failed++
    console.error(`  FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  }
}
console.log(`\n${examples.length - failed} of ${examples.length} examples passed`)
process.exit(failed === 0 ? 0 : 1)
