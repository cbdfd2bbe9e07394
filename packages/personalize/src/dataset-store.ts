/**
 * Where a dataset group's encrypted imports live. The store only ever sees ciphertext (kms-envelope
 * messages); plug in S3, files or a database by implementing {@link DatasetStore}.
 */
import { Readable, Writable } from 'node:stream'

/**
 * Storage for encrypted dataset imports: one object per import, named by a key the dataset group chooses
 * (`<group>/<incarnation uuid>/<dataset>/<sequence>-<random>`: a group re-created under the same name gets a
 * new uuid; keys of one dataset sort in import order).
 *
 * @example
 * ```ts
 * import type { DatasetStore } from '@kms-envelope/personalize'
 * import { createReadStream, createWriteStream } from 'node:fs'
 * import { mkdir, readdir, rm } from 'node:fs/promises'
 * const dir = '/var/lib/personalize'
 * const fileName = (key: string) => `${dir}/${encodeURIComponent(key)}`
 * const files: DatasetStore = {
 *   write: (key) => createWriteStream(fileName(key)),
 *   read: (key) => createReadStream(fileName(key)),
 *   list: async (prefix) => (await readdir(dir)).map(decodeURIComponent).filter((k) => k.startsWith(prefix)).sort(),
 *   delete: (key) => rm(fileName(key), { force: true }),
 * }
 * ```
 */
export interface DatasetStore {
  /** A stream that writes one new object; the object is complete when the stream has finished. */
  write(key: string): Writable
  /** A stream of one object's bytes (an error if it does not exist). */
  read(key: string): Readable
  /** The keys starting with `prefix`, sorted ascending. */
  list(prefix: string): Promise<string[]>
  /** Delete an object (no error if it does not exist). */
  delete(key: string): Promise<void>
}

/**
 * An in-memory {@link DatasetStore} (tests, demos). `get`/`set` expose the stored ciphertext, for
 * inspecting headers or simulating tampering.
 *
 * @example
 * ```ts
 * import { inspect } from '@kms-envelope/core'
 * import { MemoryDatasetStore } from '@kms-envelope/personalize'
 * const store = new MemoryDatasetStore()
 * // … new Personalize({ …, store }) and an import …
 * const [key] = await store.list('movies/') // movies/<uuid>/Interactions/000000000000-<8 hex digits>
 * inspect(store.get(key!)!).encryptedDataKeys[0]?.keyId // the dataset group's KMS key
 * ```
 */
export class MemoryDatasetStore implements DatasetStore {
  readonly #objects = new Map<string, Buffer>()

  write(key: string): Writable {
    const chunks: Buffer[] = []
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        chunks.push(chunk)
        callback()
      },
      final: (callback) => {
        this.#objects.set(key, Buffer.concat(chunks))
        callback()
      },
    })
  }

  read(key: string): Readable {
    const bytes = this.#objects.get(key)
    if (bytes === undefined) {
      const missing = new Readable({ read() {} })
      missing.destroy(new Error(`No stored object ${key}.`))
      return missing
    }
    return Readable.from([bytes], { objectMode: false })
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort()
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key)
  }

  /** The stored bytes of an object (the live buffer: modifying it modifies the stored object). */
  get(key: string): Buffer | undefined {
    return this.#objects.get(key)
  }

  /** Replace or create an object. */
  set(key: string, bytes: Uint8Array): void {
    this.#objects.set(key, Buffer.from(bytes))
  }

  /** Number of stored objects. */
  get size(): number {
    return this.#objects.size
  }
}
