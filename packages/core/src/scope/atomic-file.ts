/**
 * Crash-safe file writes (for `FileKeyStore`, and exported for adapters' file-backed stores): a file appears
 * complete or not at all, and survives a power cut once the call returned (data and directory entry fsynced).
 */
import { randomUUID } from 'node:crypto'
import { link, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * fsync a directory so a new, renamed or deleted entry in it is durable (no-op where directories cannot be
 * opened, e.g. Windows).
 *
 * @example
 * ```ts
 * await rm(path, { force: true })
 * await syncDirectory(dirname(path))
 * ```
 */
export async function syncDirectory(directory: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(directory, 'r')
    await handle.sync()
  } catch {
    // Windows cannot fsync a directory; the rename itself is still atomic there.
  } finally {
    await handle?.close()
  }
}

async function writeTemp(tempDirectory: string, data: string | Uint8Array): Promise<string> {
  const temp = join(tempDirectory, `.${process.pid}-${randomUUID()}.tmp`)
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return temp
}

/**
 * Replace `path` with `data` atomically: write a temp file (mode 0600) in `tempDirectory` (same file
 * system), fsync it, rename it over `path`, fsync the directory. Readers see the old content or the new,
 * never a partial file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from '@kms-envelope/core'
 * await writeFileAtomic('/var/lib/app/state.json', JSON.stringify(state), '/var/lib/app')
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  tempDirectory: string,
): Promise<void> {
  const temp = await writeTemp(tempDirectory, data)
  try {
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  await syncDirectory(dirname(path))
}

/**
 * Create `path` with `data` only if it does not exist, atomically, also across processes (temp file + fsync
 * + hard link, which fails with EEXIST when another writer got there first). Returns false when the file
 * existed. `tempDirectory` must be on the same file system.
 *
 * @example
 * ```ts
 * import { createFileExclusive } from '@kms-envelope/core'
 * const won = await createFileExclusive('/var/lib/app/records/r1', bytes, '/var/lib/app/records')
 * if (!won) throw new Error('r1 already exists')
 * ```
 */
export async function createFileExclusive(
  path: string,
  data: string | Uint8Array,
  tempDirectory: string,
): Promise<boolean> {
  const temp = await writeTemp(tempDirectory, data)
  try {
    await link(temp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(temp).catch(() => {})
  }
  await syncDirectory(dirname(path))
  return true
}
