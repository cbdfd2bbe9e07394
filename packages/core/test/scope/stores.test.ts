// MemoryKeyStore and FileKeyStore against the KeyStore contract, plus what only the file store has:
// persistence, crash leftovers, corrupt records, file modes and the lock.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { KeyStoreError } from '../../src/errors/errors.js'
import { FileKeyStore } from '../../src/scope/file-key-store.js'
import { withFileLock } from '../../src/scope/file-lock.js'
import { MemoryKeyStore } from '../../src/scope/memory-key-store.js'
import { describeKeyStoreContract, scope, version } from './key-store-contract.js'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kenv-store-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describeKeyStoreContract('MemoryKeyStore', () => new MemoryKeyStore())
describeKeyStoreContract('FileKeyStore', () => new FileKeyStore({ directory: tempDir() }))

describe('FileKeyStore specifics', () => {
  it('persists across instances (another process opening the directory sees everything)', async () => {
    const directory = tempDir()
    const a = new FileKeyStore({ directory })
    await a.createScope(scope('cust'))
    await a.createVersion(version('cust', 1))
    await a.appendAudit({ at: 1, actor: 'a', action: 'create-version', scopeId: 'cust', version: 1 })
    const b = new FileKeyStore({ directory })
    expect(await b.listScopes()).toEqual(['cust'])
    expect(Array.from((await b.getVersion('cust', 1))!.wrappedKey!)).toEqual([1, 1, 2, 3])
    expect(await b.listAudit()).toHaveLength(1)
  })

  it('writes records with mode 0600 and leaves no temp files', async () => {
    const directory = tempDir()
    const store = new FileKeyStore({ directory })
    await store.createVersion(version('m', 1))
    await store.updateVersion(version('m', 1, { revision: 2 }), 1)
    const dir = join(directory, 'scopes', Buffer.from('m').toString('base64url'), 'versions')
    const [file] = readdirSync(dir)
    if (process.platform !== 'win32') expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600)
    expect(readdirSync(join(directory, 'tmp'))).toEqual([])
  })

  it('ignores a partial audit line and stray temp files left by a crash', async () => {
    const directory = tempDir()
    const store = new FileKeyStore({ directory })
    await store.appendAudit({ at: 1, actor: 'a', action: 'rotate', scopeId: 's', version: 1 })
    writeFileSync(
      join(directory, 'audit.jsonl'),
      `${readFileSync(join(directory, 'audit.jsonl'), 'utf8')}{"at":2,"act`,
    )
    writeFileSync(join(directory, 'tmp', '123-abc.tmp'), '{"half":')
    expect(await store.listAudit()).toHaveLength(1)
    await store.createVersion(version('s', 1))
    expect((await store.latestVersion('s'))?.version).toBe(1)
  })

  it('reports a corrupt record as KeyStoreError CORRUPT', async () => {
    const directory = tempDir()
    const store = new FileKeyStore({ directory })
    await store.createVersion(version('c', 1))
    const file = join(
      directory,
      'scopes',
      Buffer.from('c').toString('base64url'),
      'versions',
      '0000000001.json',
    )
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), revision: 'x' }))
    const err = await store.getVersion('c', 1).catch((e) => e)
    expect(err).toBeInstanceOf(KeyStoreError)
    expect(err.reason).toBe('CORRUPT')
    writeFileSync(file, '{not json')
    await expect(store.getVersion('c', 1)).rejects.toMatchObject({ code: 'ERR_KEY_STORE', reason: 'CORRUPT' })
  })

  it('a held lock times out with KeyStoreError LOCKED; a lock of a dead process is broken', async () => {
    const directory = tempDir()
    const lock = join(directory, '.lock')
    let release!: () => void
    const held = withFileLock(lock, () => new Promise<void>((r) => (release = r)))
    await new Promise((r) => setTimeout(r, 20))
    const err = await withFileLock(lock, async () => 'x', { timeoutMs: 100 }).catch((e) => e)
    expect(err).toBeInstanceOf(KeyStoreError)
    expect(err.reason).toBe('LOCKED')
    release()
    await held
    expect(await withFileLock(lock, async () => 'free')).toBe('free')

    // A lock file naming a process that has exited is taken over at once.
    const child = spawn(process.execPath, ['-e', ''])
    const deadPid = await new Promise<number>((r) => child.on('exit', () => r(child.pid!)))
    const handle = await open(lock, 'wx')
    await handle.writeFile(`${deadPid} ${hostname()} stale-token`)
    await handle.close()
    expect(await withFileLock(lock, async () => 'taken', { timeoutMs: 200 })).toBe('taken')
  })

  it('the lock serializes critical sections (no two holders at once)', async () => {
    const lock = join(tempDir(), '.lock')
    let inside = 0
    let maxInside = 0
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(lock, async () => {
          inside++
          maxInside = Math.max(maxInside, inside)
          await new Promise((r) => setTimeout(r, 2))
          inside--
        }),
      ),
    )
    expect(maxInside).toBe(1)
  })
})
