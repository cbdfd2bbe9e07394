/**
 * A lock file shared by processes on one machine, for the read-compare-write updates of
 * {@link FileKeyStore}. Created with O_EXCL; a lock left by a crashed process (dead pid on this host, or
 * older than `staleMs`) is broken safely (renamed away and checked, so a fresh lock is never stolen).
 */
import { randomUUID } from 'node:crypto'
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyStoreError } from '../errors/errors.js'

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Give up after this long (ms). Default 10 000. */
  readonly timeoutMs?: number
  /** A lock older than this (ms) is considered abandoned. Default 30 000. */
  readonly staleMs?: number
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function isStale(path: string, content: string, staleMs: number): Promise<boolean> {
  const [pid, host] = content.split(' ')
  if (host === hostname() && pid && /^\d+$/.test(pid) && !isAlive(Number(pid))) return true
  try {
    return Date.now() - (await stat(path)).mtimeMs > staleMs
  } catch {
    return false
  }
}

/** Remove an abandoned lock; true if it was removed (by us or meanwhile by its owner). */
async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  const observed = await readText(path)
  if (observed === undefined) return true
  if (!(await isStale(path, observed, staleMs))) return false
  const aside = `${path}.stale-${randomUUID()}`
  try {
    await rename(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
  const moved = await readText(aside)
  if (moved !== observed) {
    // We moved a fresh lock taken after our read: put it back (link fails if yet another lock exists).
    await link(aside, path).catch(() => {})
  }
  await unlink(aside).catch(() => {})
  return moved === observed
}

/**
 * Run `fn` while holding the lock file at `path`.
 *
 * @example
 * ```ts
 * await withFileLock('/var/lib/app/keys/scopes/x/.lock', async () => {
 *   // read, compare, write
 * })
 * ```
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const staleMs = options.staleMs ?? 30_000
  const token = `${process.pid} ${hostname()} ${randomUUID()}`
  const deadline = Date.now() + timeoutMs
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600)
      try {
        await handle.writeFile(token, 'utf8')
      } finally {
        await handle.close()
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (await breakIfStale(path, staleMs)) continue
      // Precondition: the lock frees up before the deadline.
      if (Date.now() >= deadline) {
        throw new KeyStoreError(
          'LOCKED',
          `The key store lock ${path} is held by another process (${(await readText(path)) ?? 'unknown'}).`,
          'Retry; if no process is using the store, the lock is removed automatically once it is older than staleMs.',
        )
      }
      await sleep(Math.min(2 ** attempt, 50) + Math.random() * 5)
    }
  }
  try {
    return await fn()
  } finally {
    if ((await readText(path)) === token) await unlink(path).catch(() => {})
  }
}
