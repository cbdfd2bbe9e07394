// Packaging check: publint and @arethetypeswrong/cli on every publishable package (run after `pnpm build`).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const packagesDir = join(root, 'packages')
let failed = false
for (const name of readdirSync(packagesDir)) {
  const dir = join(packagesDir, name)
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  if (pkg.private) continue
  for (const [cmd, args] of [
    ['publint', ['--strict', '--pack', 'npm']],
    ['attw', ['--pack', '.', '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync(join(root, 'node_modules', '.bin', cmd), args, { cwd: dir, stdio: 'pipe' })
      console.log(`ok   ${cmd} ${pkg.name}`)
    } catch (err) {
      failed = true
      console.error(`FAIL ${cmd} ${pkg.name}\n${err.stdout ?? ''}${err.stderr ?? ''}`)
    }
  }
}
process.exit(failed ? 1 : 0)
