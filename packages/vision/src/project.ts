/**
 * A Lookout for Vision (or Rekognition Custom Labels) project: encrypted copies of the training and test
 * images (the source files are only read), an encrypted manifest per dataset, and encrypted model versions.
 * Every object is its own kms-envelope message under the project's KMS key, with an encryption context
 * naming the project, the kind of object and the object itself, checked on every read. The images of one
 * dataset share a cached data key (within the cache's limits): a copy of N images costs one GenerateDataKey,
 * not N.
 */
import { createHash } from 'node:crypto'
import { createReadStream, type Dirent, type Stats } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ConfigurationError,
  type EncryptionContext,
  type Envelope,
  type KmsKeyring,
  type KmsKeyringStats,
} from '@kms-envelope/core'
import { SourceChangedError, VisionNotFoundError } from './errors.js'
import { decodeManifest, encodeManifest, type ManifestEntry } from './manifest.js'
import {
  assertDataset,
  assertImagePath,
  assertModelVersion,
  assertProjectName,
  type DatasetType,
} from './names.js'
import {
  createResource,
  envelopeFor,
  openResource,
  type ProtectionKey,
  type ResourceRecord,
  SHARED_DATA_KEY,
  type VisionServiceConfig,
} from './protection.js'

/**
 * Options of {@link VisionProject.create}.
 *
 * @example
 * ```ts
 * const options: CreateProjectOptions = { ...service, name: 'pcb', kmsKeyArn: customerKeyArn }
 * ```
 */
export interface CreateProjectOptions extends VisionServiceConfig {
  /** Project name: 1–255 of `[a-zA-Z0-9_-]`, starting with a letter or digit. */
  readonly name: string
  /**
   * The customer's own symmetric KMS key (key ARN or alias ARN, not `alias/aws/…`). Default: the service's
   * key. Asymmetric, HMAC, disabled or unknown keys are refused here.
   */
  readonly kmsKeyArn?: string
}

/**
 * Options of {@link VisionProject.open}.
 *
 * @example
 * ```ts
 * const project = await VisionProject.open({ ...service, name: 'pcb', expectedKeyArn: customerKeyArn })
 * ```
 */
export interface OpenProjectOptions extends VisionServiceConfig {
  readonly name: string
  /** The customer key (key or alias ARN) the project must use: refused if its metadata names another key, or the service key. */
  readonly expectedKeyArn?: string
}

/**
 * Progress of {@link VisionProject.importImages}, reported after each image.
 *
 * @example
 * ```ts
 * const onProgress = (p: ImportProgress) => console.log(`${p.index}/${p.total} ${p.image}: ${p.totalBytes} bytes so far`)
 * ```
 */
export interface ImportProgress {
  readonly dataset: DatasetType
  /** The image just copied. */
  readonly image: string
  /** 1-based position of that image. */
  readonly index: number
  readonly total: number
  /** Bytes of this image. */
  readonly bytes: number
  /** Bytes copied so far in this import. */
  readonly totalBytes: number
}

/**
 * Options of {@link VisionProject.importImages}.
 *
 * @example
 * ```ts
 * const options: ImportOptions = { dataset: 'test', extensions: ['.png'], label: (image) => (image.includes('scratch') ? 'anomaly' : 'normal') }
 * ```
 */
export interface ImportOptions {
  /** `train` (default) or `test`. */
  readonly dataset?: DatasetType
  /** Label of an image from its path. Default: its first folder (`normal/1.png` → `normal`), else none. */
  readonly label?: (image: string) => string | undefined
  /** File extensions taken from a directory (case-insensitive). Default `.jpg`, `.jpeg`, `.png`. */
  readonly extensions?: readonly string[]
  readonly onProgress?: (progress: ImportProgress) => void
}

/**
 * What {@link VisionProject.importImages} did.
 *
 * @example
 * ```ts
 * const { images, totalBytes }: ImportResult = await project.importImages('./photos')
 * ```
 */
export interface ImportResult {
  readonly dataset: DatasetType
  /** The manifest entries of the images copied by this call. */
  readonly images: readonly ManifestEntry[]
  readonly totalBytes: number
  /** Storage key of the (encrypted) manifest. */
  readonly manifest: string
}

/**
 * A stored model version.
 *
 * @example
 * ```ts
 * const { version, bytes }: ModelInfo = await project.saveModel(modelBytes)
 * ```
 */
export interface ModelInfo {
  readonly version: number
  /** Storage key of the encrypted model. */
  readonly key: string
  /** Plaintext size in bytes. */
  readonly bytes: number
}

interface ProjectRecord extends ResourceRecord {
  readonly type: 'lookoutvision-project'
  readonly name: string
}

const DEFAULT_EXTENSIONS = ['.jpg', '.jpeg', '.png']

const prefixOf = (name: string) => `projects/${name}`
const recordKey = (name: string) => `${prefixOf(name)}/project.kenv`
const resourceOf = (name: string) => ({ kind: 'project' as const, id: name, path: recordKey(name) })

/**
 * A project with encrypted datasets and models. Create it with {@link VisionProject.create} (or reopen it
 * with {@link VisionProject.open}); encryption is always on, with the customer's key or the service's.
 *
 * @example
 * ```ts
 * import { FileStorage, VisionProject } from '@kms-envelope/vision'
 *
 * const service = { kms, storage: new FileStorage({ directory: './vision-data' }), serviceKeyArn }
 * const project = await VisionProject.create({ ...service, name: 'circuit-boards' })
 * await project.importImages('./photos', { onProgress: (p) => console.log(`${p.index}/${p.total} ${p.image}`) })
 * const { version } = await project.saveModel(modelBytes)
 * const model = await project.loadModel(version)
 * ```
 */
export class VisionProject {
  readonly name: string
  /** The KMS key ARN protecting everything in this project. */
  readonly keyArn: string
  /** Whose key it is: `customer-managed` or `service-owned`. */
  readonly keyKind: ProtectionKey['keyKind']
  readonly #config: VisionServiceConfig
  readonly #envelope: Envelope
  readonly #keyring: KmsKeyring
  /** Whether the images of a dataset share a data key (the cache is on). */
  readonly #shared: boolean
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(config: VisionServiceConfig, name: string, key: ProtectionKey) {
    this.#config = config
    this.name = name
    this.keyArn = key.keyArn
    this.keyKind = key.keyKind
    const { envelope, keyring, shared } = envelopeFor(config, key)
    this.#envelope = envelope
    this.#keyring = keyring
    this.#shared = shared
  }

  /**
   * Create a project: validate the key (customer's if given, else the service's), record it in
   * `projects/<name>/project.kenv`, sealed under the service key. ConfigurationError if the project
   * exists; InvalidKeyError for an asymmetric or HMAC key; KeyDisabledError, KeyNotFoundError,
   * KeyAccessDeniedError as KMS says (for the customer's key, or the service key, which seals the record).
   *
   * @example
   * ```ts
   * const project = await VisionProject.create({ kms, storage, serviceKeyArn, name: 'pcb', kmsKeyArn: customerKeyArn })
   * project.keyKind // 'customer-managed'
   * ```
   */
  static async create(options: CreateProjectOptions): Promise<VisionProject> {
    const { name, kmsKeyArn, ...config } = options
    assertProjectName(name)
    const { key } = await createResource<ProjectRecord>(
      config,
      resourceOf(name),
      'Open it with VisionProject.open(), or choose another name.',
      kmsKeyArn,
      { type: 'lookoutvision-project', name },
    )
    return new VisionProject(config, name, key)
  }

  /**
   * Open an existing project: its metadata record is authenticated under the service key (VisionRecordError
   * if it was edited, forged, or copied from elsewhere) and its key is validated again (VisionNotFoundError
   * if there is no such project).
   *
   * @example
   * ```ts
   * const project = await VisionProject.open({ kms, storage, serviceKeyArn, name: 'pcb' })
   * ```
   */
  static async open(options: OpenProjectOptions): Promise<VisionProject> {
    const { name, expectedKeyArn, ...config } = options
    assertProjectName(name)
    const { key } = await openResource<ProjectRecord>(
      config,
      resourceOf(name),
      (r) => r.type === 'lookoutvision-project' && r.name === name,
      expectedKeyArn,
    )
    return new VisionProject(config, name, key)
  }

  /**
   * Copy images into the project, encrypted, and list them in the dataset's encrypted manifest. `source` is
   * a directory (walked recursively; hidden entries and symbolic links skipped; only `extensions`) or a list
   * of files (named by their file name). Sources are opened read-only and never modified; each copy is
   * streamed (memory stays one frame whatever the image size). Re-importing a path replaces its copy.
   *
   * @example
   * ```ts
   * const result = await project.importImages('./photos', { dataset: 'train' })
   * console.log(result.images.length, result.totalBytes)
   * ```
   */
  importImages(source: string | readonly string[], options: ImportOptions = {}): Promise<ImportResult> {
    return this.#exclusive(() => this.#import(source, options))
  }

  async #import(source: string | readonly string[], options: ImportOptions): Promise<ImportResult> {
    const dataset = assertDataset(options.dataset ?? 'train')
    const extensions = (options.extensions ?? DEFAULT_EXTENSIONS).map((e) => e.toLowerCase())
    const sources = await collectSources(source, extensions)
    const labelOf = options.label ?? defaultLabel
    const imported: ManifestEntry[] = []
    let totalBytes = 0
    let failure: { error: unknown } | undefined
    try {
      for (const [i, { file, image }] of sources.entries()) {
        const entry = await this.#copyImage(file, image, dataset, labelOf(image))
        imported.push(entry)
        totalBytes += entry.bytes
        options.onProgress?.({
          dataset,
          image,
          index: i + 1,
          total: sources.length,
          bytes: entry.bytes,
          totalBytes,
        })
      }
    } catch (error) {
      failure = { error }
    }
    // The copies made so far are listed even when a later image failed.
    if (imported.length > 0) {
      try {
        await this.#mergeManifest(dataset, imported)
      } catch (error) {
        // The first failure is the one to report (a KMS outage would fail both).
        failure ??= { error }
      }
    }
    if (failure) throw failure.error
    return { dataset, images: imported, totalBytes, manifest: this.#manifestKey(dataset) }
  }

  async #copyImage(
    file: string,
    image: string,
    dataset: DatasetType,
    label: string | undefined,
  ): Promise<ManifestEntry> {
    const before = await statSource(file)
    // Precondition: a regular file.
    if (!before.isFile()) {
      throw new ConfigurationError(`${file} is not a regular file.`, 'Pass image files or a directory.')
    }
    const key = this.#imageKey(dataset, image)
    const hash = createHash('sha256')
    let bytes = 0
    const digest = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        // Precondition: no more bytes than the file had when the copy started (it grew: it changed). Checked
        // before the bytes reach the encrypting stream, which refuses more than its declared length.
        if (bytes + chunk.length > before.size) {
          callback(new SourceChangedError(file))
          return
        }
        hash.update(chunk)
        bytes += chunk.length
        callback(null, chunk)
      },
      // Precondition of storing the copy: the source did not change while it was read (else the copy may be
      // a mix). Checked here, before the message's last frame, so a failed check aborts the storage's
      // atomic put and any earlier copy of this image (still listed in the manifest) stays in place.
      flush(callback) {
        stat(file).then(
          (after) =>
            callback(changed(before, after) || bytes !== before.size ? new SourceChangedError(file) : null),
          callback,
        )
      },
    })
    // The known length lets the stream take the dataset's cached data key (the flush check above refuses a
    // copy whose length differs, so the cache's byte count is the stored bytes).
    const context: EncryptionContext = this.#shared
      ? { ...this.#imageContext(dataset, image), [SHARED_DATA_KEY]: 'per-dataset' }
      : this.#imageContext(dataset, image)
    await pipeline(
      createReadStream(file, { flags: 'r' }),
      digest,
      this.#envelope.encryptStream({ context, plaintextLength: before.size }),
      (encrypted: AsyncIterable<Uint8Array>) => this.#config.storage.put(key, encrypted),
    )
    return {
      'source-ref': key,
      image,
      dataset,
      ...(label === undefined ? {} : { label }),
      sha256: hash.digest('hex'),
      bytes,
      importedAt: new Date().toISOString(),
    }
  }

  async #mergeManifest(dataset: DatasetType, entries: readonly ManifestEntry[]): Promise<void> {
    const byImage = new Map((await this.listImages(dataset)).map((e) => [e.image, e]))
    for (const e of entries) byImage.set(e.image, e)
    const ciphertext = await this.#envelope.encrypt(encodeManifest(byImage.values()), {
      context: this.#manifestContext(dataset),
    })
    await this.#config.storage.put(this.#manifestKey(dataset), ciphertext)
  }

  /**
   * The dataset's manifest entries (decrypts the manifest; `[]` before the first import).
   *
   * @example
   * ```ts
   * for (const e of await project.listImages('test')) console.log(e.image, e.label, e.sha256)
   * ```
   */
  async listImages(dataset: DatasetType = 'train'): Promise<ManifestEntry[]> {
    assertDataset(dataset)
    let ciphertext: Uint8Array
    try {
      ciphertext = await this.#config.storage.get(this.#manifestKey(dataset))
    } catch (err) {
      if (err instanceof VisionNotFoundError) return []
      throw err
    }
    const text = await this.#envelope.decryptString(ciphertext, {
      expectedContext: this.#manifestContext(dataset),
    })
    return decodeManifest(text)
  }

  /**
   * The plaintext of an imported image. The copy's encryption context must name this project, dataset and
   * path (EncryptionContextMismatchError otherwise, e.g. for a copy moved from elsewhere).
   *
   * @example
   * ```ts
   * const png = await project.readImage('anomaly/scratch-01.png')
   * ```
   */
  async readImage(image: string, options: { dataset?: DatasetType } = {}): Promise<Uint8Array> {
    const dataset = assertDataset(options.dataset ?? 'train')
    assertImagePath(image)
    const ciphertext = await this.#get(this.#imageKey(dataset, image), `image ${image} (${dataset})`)
    const { plaintext } = await this.#envelope.decrypt(ciphertext, {
      expectedContext: this.#imageContext(dataset, image),
    })
    return plaintext
  }

  /**
   * An imported image as a stream (each frame is released only after it authenticated).
   *
   * @example
   * ```ts
   * await pipeline(await project.imageStream('normal/1.png'), createWriteStream('/tmp/1.png'))
   * ```
   */
  async imageStream(image: string, options: { dataset?: DatasetType } = {}): Promise<Readable> {
    const dataset = assertDataset(options.dataset ?? 'train')
    assertImagePath(image)
    const source = await this.#getStream(this.#imageKey(dataset, image), `image ${image} (${dataset})`)
    return decrypting(source, this.#envelope, this.#imageContext(dataset, image))
  }

  /**
   * Store a new model version, encrypted (there is no unencrypted option). Takes bytes or a stream of bytes.
   *
   * @example
   * ```ts
   * const { version } = await project.saveModel(createReadStream('model.tar.gz'))
   * ```
   */
  saveModel(model: Uint8Array | AsyncIterable<Uint8Array>): Promise<ModelInfo> {
    // Precondition: bytes or an async iterable of bytes.
    if (
      !(model instanceof Uint8Array) &&
      typeof (model as AsyncIterable<unknown>)?.[Symbol.asyncIterator] !== 'function'
    ) {
      return Promise.reject(
        new ConfigurationError(
          'saveModel() takes a Uint8Array or a stream.',
          'Pass the model bytes or a Readable.',
        ),
      )
    }
    return this.#exclusive(async () => {
      const version = Math.max(0, ...(await this.listModels())) + 1
      const key = this.#modelKey(version)
      const encrypt = this.#envelope.encryptStream({ context: this.#modelContext(version) })
      await pipeline(
        model instanceof Uint8Array ? Readable.from([model]) : Readable.from(model),
        encrypt,
        (encrypted: AsyncIterable<Uint8Array>) => this.#config.storage.put(key, encrypted),
      )
      return { version, key, bytes: encrypt.plaintextBytes }
    })
  }

  /**
   * A model version's plaintext (VisionNotFoundError if there is no such version).
   *
   * @example
   * ```ts
   * const bytes = await project.loadModel(1)
   * ```
   */
  async loadModel(version: number): Promise<Uint8Array> {
    assertModelVersion(version)
    const ciphertext = await this.#get(this.#modelKey(version), `model ${version} of project ${this.name}`)
    const { plaintext } = await this.#envelope.decrypt(ciphertext, {
      expectedContext: this.#modelContext(version),
    })
    return plaintext
  }

  /**
   * A model version as a stream (for models too large to hold in memory).
   *
   * @example
   * ```ts
   * await pipeline(await project.modelStream(1), createWriteStream('/tmp/model.tar.gz'))
   * ```
   */
  async modelStream(version: number): Promise<Readable> {
    assertModelVersion(version)
    const source = await this.#getStream(this.#modelKey(version), `model ${version} of project ${this.name}`)
    return decrypting(source, this.#envelope, this.#modelContext(version))
  }

  /**
   * The stored model versions, ascending.
   *
   * @example
   * ```ts
   * const latest = (await project.listModels()).at(-1)
   * ```
   */
  async listModels(): Promise<number[]> {
    const prefix = `${prefixOf(this.name)}/models`
    const versions: number[] = []
    for (const key of await this.#config.storage.list(prefix)) {
      const m = /^(\d{1,15})\.model\.kenv$/.exec(key.slice(prefix.length + 1))
      if (m) versions.push(Number(m[1]))
    }
    return versions.sort((a, b) => a - b)
  }

  /**
   * Delete the project: its copies, manifests, models and metadata, and this handle's cached data keys
   * (wiped). The KMS key is untouched.
   *
   * @example
   * ```ts
   * await project.delete()
   * ```
   */
  delete(): Promise<void> {
    return this.#exclusive(() => {
      this.#envelope.purge()
      return this.#config.storage.deletePrefix(prefixOf(this.name))
    })
  }

  /**
   * KMS calls made by this project handle (GenerateDataKey, Decrypt, …).
   *
   * @example
   * ```ts
   * console.log(project.kmsCalls().generateDataKey)
   * ```
   */
  kmsCalls(): KmsKeyringStats {
    return this.#keyring.stats()
  }

  /** Storage key of an image's encrypted copy. */
  #imageKey(dataset: DatasetType, image: string): string {
    return `${prefixOf(this.name)}/images/${dataset}/${image}.kenv`
  }
  #manifestKey(dataset: DatasetType): string {
    return `${prefixOf(this.name)}/manifests/${dataset}.manifest.jsonl.kenv`
  }
  #modelKey(version: number): string {
    return `${prefixOf(this.name)}/models/${version}.model.kenv`
  }
  /** The pairs every copy of this image has (a copy written with a shared data key also has SHARED_DATA_KEY). */
  #imageContext(dataset: DatasetType, image: string): EncryptionContext {
    return { project: this.name, object: 'image', dataset, image }
  }
  #manifestContext(dataset: DatasetType): EncryptionContext {
    return { project: this.name, object: 'manifest', dataset }
  }
  #modelContext(version: number): EncryptionContext {
    return { project: this.name, object: 'model', model: String(version) }
  }

  async #get(key: string, what: string): Promise<Uint8Array> {
    try {
      return await this.#config.storage.get(key)
    } catch (err) {
      if (err instanceof VisionNotFoundError) throw new VisionNotFoundError(what, { cause: err })
      throw err
    }
  }

  async #getStream(key: string, what: string): Promise<Readable> {
    try {
      return await this.#config.storage.getStream(key)
    } catch (err) {
      if (err instanceof VisionNotFoundError) throw new VisionNotFoundError(what, { cause: err })
      throw err
    }
  }

  /** Run `task` after every earlier import/save of this handle (manifest and version numbers stay consistent). */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }
}

function decrypting(source: Readable, envelope: Envelope, expectedContext: EncryptionContext): Readable {
  const decrypt = envelope.decryptStream({ expectedContext })
  // Errors of either side end up on the returned stream (pipeline destroys it with the error).
  pipeline(source, decrypt).catch(() => {})
  return decrypt
}

/** `stat` of a source path; a missing one is the caller's mistake: ConfigurationError naming it. */
async function statSource(path: string): Promise<Stats> {
  try {
    return await stat(path)
  } catch (err) {
    const code = (err as { code?: unknown })?.code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ConfigurationError(
        `The source ${path} does not exist.`,
        'Pass an existing directory of images or existing image files (relative paths are resolved from the working directory).',
        { cause: err },
      )
    }
    throw err
  }
}

function changed(before: Stats, after: Stats): boolean {
  return before.size !== after.size || before.mtimeMs !== after.mtimeMs || before.ino !== after.ino
}

function defaultLabel(image: string): string | undefined {
  const slash = image.indexOf('/')
  return slash > 0 ? image.slice(0, slash) : undefined
}

async function collectSources(
  source: string | readonly string[],
  extensions: readonly string[],
): Promise<{ file: string; image: string }[]> {
  if (Array.isArray(source)) {
    const seen = new Set<string>()
    return source.map((file) => {
      const image = assertImagePath(basename(String(file)))
      // Precondition: file names are unique (each names its copy).
      if (seen.has(image)) {
        throw new ConfigurationError(
          `Two files are named ${image}.`,
          'Import them from a directory (their relative paths then name them) or rename one.',
        )
      }
      seen.add(image)
      return { file, image }
    })
  }
  // Precondition: a path.
  if (typeof source !== 'string' || source === '') {
    throw new ConfigurationError('importImages() needs a directory or a list of files.', 'Pass a path.')
  }
  const info = await statSource(source)
  if (info.isFile()) return [{ file: source, image: assertImagePath(basename(source)) }]
  const found: { file: string; image: string }[] = []
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries: Dirent[] = await readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      const image = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      if (entry.isDirectory()) await walk(join(dir, entry.name), image)
      else if (entry.isFile() && extensions.includes(extname(entry.name).toLowerCase())) {
        found.push({ file: join(dir, entry.name), image: assertImagePath(image) })
      }
    }
  }
  await walk(source, '')
  return found
}
