/**
 * Crash-safe file writes for {@link FileKeyStore}: a file appears complete or not at all, and survives a
 * power cut once the call returned (data and directory entry fsynced).
 */
import { randomUUID } from 'node:crypto'
import { link, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** fsync a directory so a new or renamed entry in it is durable (no-op where directories cannot be opened). */
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

async function writeTemp(tempDirectory: string, data: string): Promise<string> {
  const temp = join(tempDirectory, `${process.pid}-${randomUUID()}.tmp`)
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(data, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  return temp
}

/**
 * Replace `path` with `data` atomically: write a temp file, fsync it, rename it over `path`, fsync the
 * directory. Readers see the old content or the new, never a partial file.
 */
export async function writeFileAtomic(path: string, data: string, tempDirectory: string): Promise<void> {
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
 * Create `path` with `data` only if it does not exist, atomically (temp file + fsync + hard link, which
 * fails with EEXIST when another writer got there first). Returns false when the file existed.
 */
export async function createFileExclusive(
  path: string,
  data: string,
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
