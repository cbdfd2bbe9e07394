/**
 * In-process throughput of the local KMS engine: GenerateDataKey and Decrypt calls per second straight
 * on LocalKmsEngine.call (no HTTP, no SigV4), memory-only and with a data directory (audit.log appended).
 *
 * Run: `npx tsx packages/local-kms/bench/engine-bench.ts [seconds-per-case]`
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalKmsEngine } from '../src/engine/index.js'

const seconds = Number(process.argv[2] ?? 2)

async function measure(name: string, fn: () => Promise<unknown>, concurrency = 16): Promise<void> {
  for (let i = 0; i < 3000; i++) await fn()
  let count = 0
  const end = performance.now() + seconds * 1000
  const worker = async () => {
    while (performance.now() < end) {
      await fn()
      count++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = (performance.now() - t0) / 1000
  console.log(
    `${name.padEnd(48)} ${Math.round(count / elapsed)
      .toLocaleString('en-US')
      .padStart(9)} calls/s`,
  )
}

async function run(label: string, dataDir?: string): Promise<void> {
  const engine = await LocalKmsEngine.open(dataDir ? { dataDir } : {})
  const caller = engine.resolveAccessKey('test')!.caller
  const arn = ((await engine.call('CreateKey', {}, caller)).KeyMetadata as { Arn: string }).Arn
  const context = { tenant: 'acme', purpose: 'bench' }
  const dk = await engine.call(
    'GenerateDataKey',
    { KeyId: arn, KeySpec: 'AES_256', EncryptionContext: context },
    caller,
  )
  await measure(`GenerateDataKey (${label})`, () =>
    engine.call('GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', EncryptionContext: context }, caller),
  )
  await measure(`Decrypt (${label})`, () =>
    engine.call('Decrypt', { CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }, caller),
  )
  await engine.close()
}

console.log(
  `local-kms engine, in process, Node ${process.version}, ${seconds}s per case, 16 concurrent callers`,
)
await run('memory')
const dir = mkdtempSync(join(tmpdir(), 'lkms-bench-'))
try {
  await run('data dir + audit.log', dir)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
