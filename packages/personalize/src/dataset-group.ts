/**
 * A dataset group: the unit Amazon Personalize encrypts under one KMS key. The key (customer managed, used
 * as the group's IAM role, or the service-owned key) is fixed when the group is created; every import into
 * any of its datasets is one framed kms-envelope message under a fresh data key from that key, with the
 * encryption context `{ datasetGroup: <group ARN>, dataset: <type> }`, so data of one group or dataset never
 * opens as another's.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  type CacheStats,
  ConfigurationError,
  type EncryptionContext,
  type Envelope,
  type KeyOwnership,
  type KmsKeyringStats,
} from '@kms-envelope/core'
import type { DatasetStore } from './dataset-store.js'
import { DatasetGroupError } from './errors.js'
import { type ImportProgress, ProgressCounter } from './import-progress.js'
import { assertDatasetType, type DatasetType } from './resource-names.js'
import { asRoleError } from './role-key-check.js'

/**
 * Amazon Personalize's import modes: FULL replaces the dataset's data, INCREMENTAL adds to it.
 *
 * @example
 * ```ts
 * await group.importDataset('Items', 'i9,drama\n', { mode: 'INCREMENTAL' satisfies ImportMode })
 * ```
 */
export type ImportMode = 'FULL' | 'INCREMENTAL'

/**
 * What an import reads (CSV or JSON lines): a Node.js Readable, an (async) iterable of strings or bytes, or
 * one string or byte array.
 *
 * @example
 * ```ts
 * const source: DatasetSource = createReadStream('users.csv') // or ['USER_ID\n', 'u1\n'], or 'USER_ID\nu1\n'
 * ```
 */
export type DatasetSource =
  | Readable
  | AsyncIterable<string | Uint8Array>
  | Iterable<string | Uint8Array>
  | string
  | Uint8Array

/**
 * Options of {@link DatasetGroup.importDataset}.
 *
 * @example
 * ```ts
 * const options: ImportOptions = { mode: 'FULL', onProgress: (p) => console.log(p.bytes), signal: AbortSignal.timeout(60_000) }
 * ```
 */
export interface ImportOptions {
  /** Default `FULL`: the previous imports of this dataset are deleted once this one is stored. */
  readonly mode?: ImportMode
  /** Called after each chunk and at the end. A callback that throws fails the import. */
  readonly onProgress?: (progress: ImportProgress) => void
  /** Abort the import (the partial object is deleted). */
  readonly signal?: AbortSignal
}

/**
 * The result of an import.
 *
 * @example
 * ```ts
 * const { objectKey, lines, kmsKeyArn, context }: ImportResult = await group.importDataset('Users', source)
 * ```
 */
export interface ImportResult {
  readonly dataset: DatasetType
  readonly mode: ImportMode
  /** The store key of the encrypted import. */
  readonly objectKey: string
  /** Plaintext bytes and lines imported. */
  readonly bytes: number
  readonly lines: number
  /** The KMS key that wraps the import's data key. */
  readonly kmsKeyArn: string
  /** The encryption context bound to the import. */
  readonly context: EncryptionContext
}

/**
 * What {@link DatasetGroup.describe} returns (as DescribeDatasetGroup does).
 *
 * @example
 * ```ts
 * const { kmsKeyArn, keyOwnership, roleArn, status }: DatasetGroupDescription = group.describe()
 * ```
 */
export interface DatasetGroupDescription {
  readonly name: string
  readonly datasetGroupArn: string
  /** The key ARN everything in the group is encrypted with (an alias given at creation, resolved). */
  readonly kmsKeyArn: string
  /** `customer-managed` when a key was given at creation, else `service-owned`. */
  readonly keyOwnership: KeyOwnership
  /** The IAM role the customer managed key is used as (undefined for the service-owned key). */
  readonly roleArn: string | undefined
  readonly status: 'ACTIVE' | 'DELETED'
  readonly creationDateTime: Date
}

/** @internal What {@link Personalize} hands a new group. */
export interface DatasetGroupInit {
  readonly name: string
  readonly datasetGroupArn: string
  readonly kmsKeyArn: string
  readonly keyOwnership: KeyOwnership
  readonly roleArn: string | undefined
  readonly envelope: Envelope
  readonly kmsStats: () => KmsKeyringStats
  readonly store: DatasetStore
  /** Store prefix unique to this group's incarnation (`<name>/<uuid>/`). */
  readonly prefix: string
  readonly creationDateTime: Date
}

const SEQUENCE_DIGITS = 12

/**
 * A dataset group with its fixed KMS key. Obtained from `Personalize#createDatasetGroup`, or
 * `Personalize#getDatasetGroup` (also after a restart, from the group's sealed registry record).
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs'
 * const group = await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn, roleArn })
 * await group.importDataset('Interactions', createReadStream('interactions.csv'), {
 *   onProgress: (p) => console.log(`${p.lines} rows`),
 * })
 * for await (const chunk of group.readDataset('Interactions')) process.stdout.write(chunk)
 * ```
 */
export class DatasetGroup {
  readonly name: string
  readonly datasetGroupArn: string
  /** Fixed at creation; there is no way to change it (create a new group instead). */
  readonly kmsKeyArn: string
  readonly keyOwnership: KeyOwnership
  readonly roleArn: string | undefined
  readonly creationDateTime: Date
  readonly #envelope: Envelope
  readonly #kmsStats: () => KmsKeyringStats
  readonly #store: DatasetStore
  readonly #prefix: string
  /** Next import sequence number, once known (a reopened group continues after what the store holds). */
  #sequence = 0
  #sequenceLoaded: Promise<void> | undefined
  #deleted = false

  /** @internal Use `Personalize#createDatasetGroup` or `Personalize#getDatasetGroup`. */
  constructor(init: DatasetGroupInit) {
    this.name = init.name
    this.datasetGroupArn = init.datasetGroupArn
    this.kmsKeyArn = init.kmsKeyArn
    this.keyOwnership = init.keyOwnership
    this.roleArn = init.roleArn
    this.creationDateTime = new Date(init.creationDateTime.getTime())
    this.#envelope = init.envelope
    this.#kmsStats = init.kmsStats
    this.#store = init.store
    this.#prefix = init.prefix
    // Postcondition: name, ARN, key and role cannot be reassigned (private state stays usable).
    Object.freeze(this)
  }

  /**
   * The encryption context of a dataset's data: `{ datasetGroup: <group ARN>, dataset: <type> }`.
   *
   * @example
   * ```ts
   * group.contextOf('Items') // { datasetGroup: 'arn:aws:personalize:us-east-1:111122223333:dataset-group/movies', dataset: 'Items' }
   * ```
   */
  contextOf(dataset: DatasetType): EncryptionContext {
    assertDatasetType(dataset)
    return { datasetGroup: this.datasetGroupArn, dataset }
  }

  /**
   * Encrypt a source (CSV or JSON lines, any size) into the dataset: streamed through one framed message
   * under a fresh data key from the group's KMS key, with constant memory. Stored only when complete; a
   * failed or aborted import leaves the dataset as it was.
   *
   * @example
   * ```ts
   * const result = await group.importDataset('Items', ['ITEM_ID,GENRE\n', 'i1,drama\n'], { mode: 'INCREMENTAL' })
   * console.log(result.lines, result.kmsKeyArn)
   * ```
   */
  async importDataset(
    dataset: DatasetType,
    source: DatasetSource,
    options: ImportOptions = {},
  ): Promise<ImportResult> {
    this.#assertActive()
    const context = this.contextOf(dataset)
    const mode = options.mode ?? 'FULL'
    // Precondition: a known import mode.
    if (mode !== 'FULL' && mode !== 'INCREMENTAL') {
      throw new ConfigurationError(`Unknown import mode "${String(mode)}".`, "Use 'FULL' or 'INCREMENTAL'.")
    }
    const input = toReadable(source)
    const objectKey = `${this.#datasetPrefix(dataset)}${await this.#nextSequence()}`
    const counter = new ProgressCounter(dataset, options.onProgress)
    try {
      await pipeline(
        input,
        counter,
        this.#envelope.encryptStream({ context }),
        this.#store.write(objectKey),
        ...(options.signal ? [{ signal: options.signal }] : []),
      )
    } catch (err) {
      await this.#store.delete(objectKey).catch(() => undefined)
      throw this.#mapError(err)
    }
    // Postcondition: the group was not deleted meanwhile (else the new object must not outlive it).
    if (this.#deleted) {
      await this.#store.delete(objectKey)
      throw new DatasetGroupError('DELETED', this.datasetGroupArn)
    }
    if (mode === 'FULL') {
      const older = (await this.#store.list(this.#datasetPrefix(dataset))).filter((k) => k < objectKey)
      for (const key of older) await this.#store.delete(key)
    }
    return {
      dataset,
      mode,
      objectKey,
      bytes: counter.bytes,
      lines: counter.lines,
      kmsKeyArn: this.kmsKeyArn,
      context,
    }
  }

  /**
   * The dataset's plaintext: every stored import in order, each decrypted and authenticated frame by frame
   * (only under the group's key and context; any modification → TamperedCiphertextError, data of another
   * group or dataset → EncryptionContextMismatchError). Empty when nothing was imported.
   *
   * @example
   * ```ts
   * const text = Buffer.concat(await group.readDataset('Users').toArray()).toString('utf8')
   * ```
   */
  readDataset(dataset: DatasetType): Readable {
    this.#assertActive()
    const expectedContext = this.contextOf(dataset)
    const prefix = this.#datasetPrefix(dataset)
    const store = this.#store
    const envelope = this.#envelope
    const mapError = (err: unknown) => this.#mapError(err)
    async function* plaintext(): AsyncGenerator<Buffer> {
      try {
        for (const key of await store.list(prefix)) {
          const encrypted = store.read(key)
          const decrypt = envelope.decryptStream({ expectedContext })
          encrypted.on('error', (err) => decrypt.destroy(err))
          encrypted.pipe(decrypt)
          try {
            for await (const chunk of decrypt) yield chunk as Buffer
          } finally {
            encrypted.destroy()
          }
        }
      } catch (err) {
        throw mapError(err)
      }
    }
    return Readable.from(plaintext(), { objectMode: false })
  }

  /**
   * The group's key, role and status.
   *
   * @example
   * ```ts
   * const { kmsKeyArn, keyOwnership } = group.describe()
   * ```
   */
  describe(): DatasetGroupDescription {
    return {
      name: this.name,
      datasetGroupArn: this.datasetGroupArn,
      kmsKeyArn: this.kmsKeyArn,
      keyOwnership: this.keyOwnership,
      roleArn: this.roleArn,
      status: this.#deleted ? 'DELETED' : 'ACTIVE',
      creationDateTime: this.creationDateTime,
    }
  }

  /**
   * KMS calls made for this group's data (excluding the key check at creation), and data-key cache counters.
   *
   * @example
   * ```ts
   * const { kms, cache } = group.stats()
   * console.log(kms.generateDataKey, kms.decrypt, cache.hits)
   * ```
   */
  stats(): { kms: KmsKeyringStats; cache: CacheStats } {
    return { kms: this.#kmsStats(), cache: this.#envelope.stats() }
  }

  /** @internal Called by `Personalize#deleteDatasetGroup`: deletes every stored import and forgets cached data keys. */
  async destroy(): Promise<void> {
    this.#deleted = true
    this.#envelope.purge()
    for (const key of await this.#store.list(this.#prefix)) await this.#store.delete(key)
  }

  /**
   * The next import's object name: a sequence number (12 digits) and a random suffix. The first call lists
   * the group's stored imports, so a group reopened after a restart continues after them; later calls count
   * on. The suffix keeps two processes importing into one group at once from overwriting each other's
   * object when they pick the same number.
   */
  async #nextSequence(): Promise<string> {
    if (!this.#sequenceLoaded) {
      this.#sequenceLoaded = this.#store.list(this.#prefix).then((keys) => {
        for (const key of keys) {
          const sequence = /^(\d+)(?:-[0-9a-f]+)?$/.exec(key.slice(key.lastIndexOf('/') + 1))?.[1]
          if (sequence !== undefined) this.#sequence = Math.max(this.#sequence, Number(sequence) + 1)
        }
      })
      // A failed listing is retried by the next import.
      this.#sequenceLoaded.catch(() => {
        this.#sequenceLoaded = undefined
      })
    }
    await this.#sequenceLoaded
    return `${String(this.#sequence++).padStart(SEQUENCE_DIGITS, '0')}-${randomBytes(4).toString('hex')}`
  }

  #datasetPrefix(dataset: DatasetType): string {
    return `${this.#prefix}${dataset}/`
  }

  #assertActive(): void {
    // Precondition: the group was not deleted.
    if (this.#deleted) throw new DatasetGroupError('DELETED', this.datasetGroupArn)
  }

  #mapError(err: unknown): unknown {
    return this.roleArn === undefined ? err : asRoleError(err, this.roleArn, this.datasetGroupArn)
  }
}

function toReadable(source: DatasetSource): Readable {
  if (source instanceof Readable) return source
  if (typeof source === 'string' || source instanceof Uint8Array)
    return Readable.from([source], { objectMode: false })
  // Precondition: a stream or an iterable of chunks.
  if (
    source === null ||
    typeof source !== 'object' ||
    (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function' &&
      typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function')
  ) {
    throw new ConfigurationError(
      'A dataset source must be a Readable, an (async) iterable of strings or bytes, a string or bytes.',
      'Pass e.g. createReadStream("interactions.csv") or an array of CSV lines.',
    )
  }
  return Readable.from(source, { objectMode: false })
}
