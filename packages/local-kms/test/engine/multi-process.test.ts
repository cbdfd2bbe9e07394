import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { LocalKmsEngine } from '../../src/engine/index.js'

const fixture = fileURLToPath(new URL('./lock-holder.fixture.ts', import.meta.url))

function startHolder(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child)
    })
    child.on('exit', (code) => reject(new Error(`holder exited early with ${code}`)))
  })
}

describe('two processes on one data directory', () => {
  it('a live process holds the directory; after it crashes (SIGKILL) the next open takes over and loses nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lkms-mp-'))
    const child = await startHolder(dataDir)
    const err = await LocalKmsEngine.open({ dataDir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_LOCAL_KMS_LOCKED' })
    expect((err as Error).message).toContain(`process ${child.pid}`)
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    const engine = await LocalKmsEngine.open({ dataDir })
    const { Keys } = await engine.call('ListKeys', {}, engine.resolveAccessKey('test')!.caller)
    expect(Keys).toHaveLength(1)
    const md = await engine.call(
      'DescribeKey',
      { KeyId: (Keys as { KeyId: string }[])[0]!.KeyId },
      engine.resolveAccessKey('test')!.caller,
    )
    expect(md.KeyMetadata).toMatchObject({ Description: 'made by the child' })
    await engine.close()
  }, 30_000)
})
