#!/usr/bin/env node
/**
 * The `kms-envelope` bin: runs {@link run} on the process's streams and environment. The first SIGINT or
 * SIGTERM aborts the running command (its output file is removed, exit code 130); a second one exits at once.
 */
import { run } from './run.js'

const controller = new AbortController()
let signals = 0
const onSignal = () => {
  signals++
  if (signals > 1) process.exit(130)
  controller.abort()
}
// A closed pipe (`kms-envelope decrypt … | head`) is reported by run() as ERR_IO; never crash on it.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err
})
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

void run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
}).then((code) => {
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  process.exitCode = code
})
