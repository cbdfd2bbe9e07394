/**
 * Where encrypted objects live: a small object-store interface (the part of S3 this package needs) and a
 * filesystem implementation with one directory per project and per collection. The storage only ever sees
 * ciphertext: the objects, and the metadata records (project.kenv, collection.kenv) sealed under the
 * service key.
 */
import { randomUUID } from 'node:crypto'
import type { Dirent } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ConfigurationError } from '@kms-envelope/core'
import { VisionNotFoundError } from './errors.js'

/**
 * An object store keyed by `/`-separated relative keys. Implement it over S3, a database or anything else;
 * {@link FileStorage} is the local one.
 *
 * @example
 * ```ts
 * import type { VisionStorage } from '@kms-envelope/vision'
 * async function copy(storage: VisionStorage, from: string, to: string) {
 *   await storage.put(to, await storage.get(from))
 * }
 * ```
 */
export interface VisionStorage {
  /** Store `body` under `key`, replacing any previous object; readers see the old object or the new one. */
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<void>
  /** The whole object; VisionNotFoundError when there is none. */
  get(key: string): Promise<Uint8Array>
  /** The object as a stream; VisionNotFoundError (before any byte) when there is none. */
  getStream(key: string): Promise<Readable>
  /** Whether an object exists under `key`. */
  has(key: string): Promise<boolean>
  /** Keys of all objects under the folder `prefix` (recursively), sorted; `[]` when there are none. */
  list(prefix: string): Promise<string[]>
  /** Remove one object; true if it existed. */
  delete(key: string): Promise<boolean>
  /** Remove every object under the folder `prefix`. */
  deletePrefix(prefix: string): Promise<void>
}

/**
 * Options of {@link FileStorage}.
 *
 * @example
 * ```ts
 * const storage = new FileStorage({ directory: './vision-data' } satisfies FileStorageOptions)
 * ```
 */
export interface FileStorageOptions {
  /** Root directory (created if missing). Objects are files below it, created with mode 0600. */
  readonly directory: string
}

const TEMP = '.tmp'

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/**
 * {@link VisionStorage} on a local directory: `<directory>/projects/<name>/…`, `<directory>/collections/<id>/…`.
 * Writes go to a temp file that is fsynced and renamed into place, so an object is complete or absent.
 *
 * @example
 * ```ts
 * import { FileStorage } from '@kms-envelope/vision'
 * const storage = new FileStorage({ directory: '/var/lib/vision' })
 * await storage.put('projects/defects/notes.bin', new Uint8Array([1, 2, 3]))
 * await storage.list('projects/defects') // ['projects/defects/notes.bin']
 * ```
 */
export class FileStorage implements VisionStorage {
  readonly directory: string

  constructor(options: FileStorageOptions) {
    // Precondition: a directory.
    if (typeof options?.directory !== 'string' || options.directory === '') {
      throw new ConfigurationError(
        'FileStorage needs a directory.',
        "Pass { directory: '/path/to/storage' }.",
      )
    }
    this.directory = resolve(options.directory)
  }

  /** Map a key to a path below the root; refuses anything that could escape it. */
  #path(key: string): string {
    const segments = typeof key === 'string' ? key.split('/') : []
    // Precondition: relative, no traversal, not the temp directory.
    if (
      segments.length === 0 ||
      segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0')) ||
      segments[0] === TEMP
    ) {
      throw new ConfigurationError(
        `"${String(key)}" is not a valid storage key.`,
        'Use a relative key a/b/c.',
      )
    }
    const path = join(this.directory, ...segments)
    // Postcondition: inside the root.
    if (!path.startsWith(this.directory + sep)) {
      throw new ConfigurationError(`"${key}" escapes the storage directory.`, 'Use a relative key a/b/c.')
    }
    return path
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const path = this.#path(key)
    const tempDir = join(this.directory, TEMP)
    await mkdir(tempDir, { recursive: true, mode: 0o700 })
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const temp = join(tempDir, `${process.pid}-${randomUUID()}`)
    try {
      if (body instanceof Uint8Array) {
        const handle = await open(temp, 'wx', 0o600)
        try {
          await handle.writeFile(body)
          await handle.sync()
        } finally {
          await handle.close()
        }
      } else {
        // Create the temp file before streaming: a write stream opened lazily could create it after a failed
        // source was already cleaned up, leaving it behind.
        const handle = await open(temp, 'wx', 0o600)
        await pipeline(body, handle.createWriteStream())
        const synced = await open(temp, 'r')
        try {
          await synced.sync()
        } finally {
          await synced.close()
        }
      }
      await rename(temp, path)
    } catch (err) {
      await unlink(temp).catch(() => {})
      throw err
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.#path(key)))
    } catch (err) {
      if (isMissing(err)) throw new VisionNotFoundError(`object ${key}`, { cause: err })
      throw err
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const handle = await open(this.#path(key), 'r')
      return handle.createReadStream()
    } catch (err) {
      if (isMissing(err)) throw new VisionNotFoundError(`object ${key}`, { cause: err })
      throw err
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      const handle = await open(this.#path(key), 'r')
      await handle.close()
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
  }

  async list(prefix: string): Promise<string[]> {
    const root = this.#path(prefix)
    const keys: string[] = []
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries: Dirent[]
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch (err) {
        if (isMissing(err)) return
        throw err
      }
      for (const entry of entries) {
        const key = `${keyPrefix}/${entry.name}`
        if (entry.isDirectory()) await walk(join(dir, entry.name), key)
        else if (entry.isFile()) keys.push(key)
      }
    }
    await walk(root, prefix)
    return keys.sort()
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.#path(key))
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.#path(prefix), { recursive: true, force: true })
  }
}
