import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { LocalKmsError } from './errors.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/**
 * Take the exclusive lock of a data directory: `<dataDir>/lock`, created with O_EXCL and holding the
 * owner's pid. A lock left by a dead process (same host) is taken over; a live owner gets a clear error.
 * Returns the release function. Internal.
 */
export function acquireLock(dataDir: string): () => void {
  const path = join(dataDir, 'lock')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }))
      closeSync(fd)
      let released = false
      return () => {
        if (released) return
        released = true
        try {
          unlinkSync(path)
        } catch {
          // Already gone: nothing to release.
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let owner: { pid?: number; host?: string } = {}
    let unreadable = false
    try {
      owner = JSON.parse(readFileSync(path, 'utf8'))
    } catch {
      unreadable = true
    }
    const pid = typeof owner.pid === 'number' ? owner.pid : undefined
    const sameHost = owner.host === undefined || owner.host === hostname()
    // A lock that is still unreadable 10 s after it was written was left half-written by a crash.
    const abandoned = unreadable && Date.now() - mtime(path) > 10_000
    if (abandoned || (pid !== undefined && sameHost && !alive(pid))) {
      // Precondition: the owner is dead, the lock is stale: remove it and retry.
      try {
        unlinkSync(path)
      } catch {
        // Another process took it over first; the next attempt will tell.
      }
      continue
    }
    throw new LocalKmsError(
      'ERR_LOCAL_KMS_LOCKED',
      `The local KMS data directory ${dataDir} is in use by process ${pid ?? 'unknown'}${owner.host ? ` on ${owner.host}` : ''}. ` +
        'Stop that process (or close its LocalKmsEngine) first, or use another --data-dir. ' +
        `If no such process is running, delete ${path}.`,
    )
  }
  throw new LocalKmsError(
    'ERR_LOCAL_KMS_LOCKED',
    `Could not take the lock ${path}; another process keeps taking it.`,
  )
}
