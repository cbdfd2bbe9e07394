import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigurationError, createFileExclusive, syncDirectory } from '@kms-envelope/core'
import { assertDatasetGroupName } from './resource-names.js'

/**
 * Storage for dataset-group records, by group name. The bytes are opaque (a sealed record); `create` must be
 * atomic (of two concurrent creations of one name, exactly one returns true), which is what makes a name
 * belong to one group even across processes.
 *
 * @example
 * ```ts
 * import type { DatasetGroupRegistry } from '@kms-envelope/personalize'
 * // DynamoDB: PutItem with ConditionExpression 'attribute_not_exists(#name)' is an atomic create.
 * const registry: DatasetGroupRegistry = {
 *   create: async (name, record) => putIfAbsent(name, record), // false on ConditionalCheckFailedException
 *   get: async (name) => getItem(name),
 *   list: async () => (await scanNames()).sort(),
 *   delete: async (name) => deleteItem(name),
 * }
 * ```
 */
export interface DatasetGroupRegistry {
  /** Store `record` under `name` only if the name has none, atomically: true if stored, false if taken. */
  create(name: string, record: Uint8Array): Promise<boolean>
  /** The record of `name`, or undefined. */
  get(name: string): Promise<Uint8Array | undefined>
  /** Every name with a record, sorted ascending. */
  list(): Promise<string[]>
  /** Remove the record of `name` (no error if there is none). */
  delete(name: string): Promise<void>
}

/**
 * An in-memory {@link DatasetGroupRegistry}: groups last as long as the object (share one between
 * `Personalize` objects to simulate a restart in tests). `set` replaces a record, for tamper tests.
 *
 * @example
 * ```ts
 * import { MemoryDatasetGroupRegistry, Personalize } from '@kms-envelope/personalize'
 * const registry = new MemoryDatasetGroupRegistry()
 * const personalize = new Personalize({ ...options, store, registry })
 * await personalize.createDatasetGroup({ name: 'movies' })
 * await registry.list() // ['movies']
 * ```
 */
export class MemoryDatasetGroupRegistry implements DatasetGroupRegistry {
  readonly #records = new Map<string, Buffer>()

  async create(name: string, record: Uint8Array): Promise<boolean> {
    if (this.#records.has(name)) return false
    this.#records.set(name, Buffer.from(record))
    return true
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const record = this.#records.get(name)
    return record === undefined ? undefined : Buffer.from(record)
  }

  async list(): Promise<string[]> {
    return [...this.#records.keys()].sort()
  }

  async delete(name: string): Promise<void> {
    this.#records.delete(name)
  }

  /** Replace or create a record (no checks: for simulating an edited registry). */
  set(name: string, record: Uint8Array): void {
    this.#records.set(name, Buffer.from(record))
  }
}

const SUFFIX = '.group'

/**
 * A {@link DatasetGroupRegistry} in a directory: one file per group (`<hex of the name>.group`, so names that
 * differ only in case stay distinct on case-insensitive file systems). A record is created atomically and
 * durably (temporary file, fsync, hard link that fails if the name exists, directory fsync), so concurrent
 * creations of one name by several processes on one host (or a file system with POSIX link semantics)
 * leave exactly one winner.
 *
 * @example
 * ```ts
 * import { FileDatasetGroupRegistry, Personalize } from '@kms-envelope/personalize'
 * const registry = new FileDatasetGroupRegistry({ directory: '/var/lib/personalize/groups' })
 * const personalize = new Personalize({ ...options, store, registry })
 * ```
 */
export class FileDatasetGroupRegistry implements DatasetGroupRegistry {
  readonly directory: string

  constructor(options: { readonly directory: string }) {
    // Precondition: a directory path.
    if (typeof options?.directory !== 'string' || options.directory === '') {
      throw new ConfigurationError(
        'FileDatasetGroupRegistry needs a directory.',
        "Pass { directory: '/var/lib/personalize/groups' }.",
      )
    }
    this.directory = options.directory
  }

  async create(name: string, record: Uint8Array): Promise<boolean> {
    const path = this.#path(name)
    await mkdir(this.directory, { recursive: true, mode: 0o700 })
    // Postcondition: the record appears complete or not at all, and only if the name was free.
    return createFileExclusive(path, record, this.directory)
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.#path(name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async list(): Promise<string[]> {
    let files: string[]
    try {
      files = await readdir(this.directory)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return files
      .filter((f) => f.endsWith(SUFFIX) && /^(?:[0-9a-f]{2})+$/.test(f.slice(0, -SUFFIX.length)))
      .map((f) => Buffer.from(f.slice(0, -SUFFIX.length), 'hex').toString('utf8'))
      .filter((name) => {
        try {
          assertDatasetGroupName(name)
          return true
        } catch {
          return false
        }
      })
      .sort()
  }

  async delete(name: string): Promise<void> {
    await rm(this.#path(name), { force: true })
    await syncDirectory(this.directory)
  }

  #path(name: string): string {
    // Precondition: a dataset group name (nothing else reaches the file system).
    assertDatasetGroupName(name)
    return join(this.directory, `${Buffer.from(name, 'utf8').toString('hex')}${SUFFIX}`)
  }
}
