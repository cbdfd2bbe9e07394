/**
 * A Rekognition-style face collection. Rekognition stores face vectors as plain float arrays ("The data is
 * not further encrypted", per its documentation); this collection encrypts each face record (vector and
 * external image id) as its own message, with the encryption context {collection, faceId}, and decrypts
 * the vectors only in memory, for the duration of a search. The faces of one collection share a cached data
 * key (within the cache's limits), so indexing or searching N faces costs one KMS call, not N.
 */
import { randomUUID } from 'node:crypto'
import {
  ConfigurationError,
  type EncryptionContext,
  type Envelope,
  type KmsKeyring,
  type KmsKeyringStats,
  MalformedCiphertextError,
} from '@kms-envelope/core'
import { VisionNotFoundError } from './errors.js'
import { assertCollectionId, assertExternalImageId, assertFaceId } from './names.js'
import {
  createResource,
  envelopeFor,
  openResource,
  type ProtectionKey,
  type ResourceRecord,
  SHARED_DATA_KEY,
  type VisionServiceConfig,
} from './protection.js'
import { assertFaceVector, similarity } from './similarity.js'

/**
 * Options of {@link FaceCollection.create}.
 *
 * @example
 * ```ts
 * const options: CreateCollectionOptions = { ...service, collectionId: 'staff', dimension: 128, kmsKeyArn: customerKeyArn }
 * ```
 */
export interface CreateCollectionOptions extends VisionServiceConfig {
  /** Collection id: 1–255 of `[a-zA-Z0-9_.-]`, not starting with `.`. */
  readonly collectionId: string
  /** Length of every face vector in this collection (fixed, like a Rekognition face model version). */
  readonly dimension: number
  /** A customer symmetric KMS key; default the service's key. */
  readonly kmsKeyArn?: string
}

/**
 * Options of {@link FaceCollection.open}.
 *
 * @example
 * ```ts
 * const faces = await FaceCollection.open({ ...service, collectionId: 'staff', expectedKeyArn: customerKeyArn })
 * ```
 */
export interface OpenCollectionOptions extends VisionServiceConfig {
  readonly collectionId: string
  /** The customer key (key or alias ARN) the collection must use: refused if its metadata names another key, or the service key. */
  readonly expectedKeyArn?: string
}

/**
 * An indexed face.
 *
 * @example
 * ```ts
 * const record: FaceRecord = await faces.indexFace(embedding, 'badge-1042') // { faceId: '…uuid…', externalImageId: 'badge-1042' }
 * ```
 */
export interface FaceRecord {
  readonly faceId: string
  readonly externalImageId: string
}

/**
 * A search result: Rekognition's `FaceMatch` (similarity 0–100).
 *
 * @example
 * ```ts
 * const [match]: FaceMatch[] = await faces.searchFaces(probe)
 * if (match && match.similarity > 99) console.log('same person:', match.externalImageId)
 * ```
 */
export interface FaceMatch extends FaceRecord {
  readonly similarity: number
}

/**
 * Options of {@link FaceCollection.searchFaces}.
 *
 * @example
 * ```ts
 * const options: SearchFacesOptions = { threshold: 95, maxResults: 3 }
 * await faces.searchFaces(probe, options)
 * ```
 */
export interface SearchFacesOptions {
  /** Lowest similarity (0–100) to return; Rekognition's `FaceMatchThreshold`, default 80. */
  readonly threshold?: number
  /** At most this many matches, best first (1–4096, default 10). */
  readonly maxResults?: number
}

interface CollectionRecord extends ResourceRecord {
  readonly type: 'rekognition-collection'
  readonly collectionId: string
  readonly dimension: number
}

/**
 * A face record's plaintext, binary so that every copy of the vector can be zeroized (JSON and base64 would
 * leave it in immutable strings): `u16 BE` length of the external image id, the id (UTF-8), then the vector
 * as `dimension` float32 little-endian.
 */
const ID_LENGTH_BYTES = 2

const prefixOf = (id: string) => `collections/${id}`
const recordKey = (id: string) => `${prefixOf(id)}/collection.kenv`
const resourceOf = (id: string) => ({ kind: 'collection' as const, id, path: recordKey(id) })

/**
 * A collection of encrypted face vectors with cosine-similarity search.
 *
 * @example
 * ```ts
 * import { FaceCollection } from '@kms-envelope/vision'
 * const faces = await FaceCollection.create({ ...service, collectionId: 'employees', dimension: 128 })
 * const { faceId } = await faces.indexFace(embedding, 'badge-1042')
 * const [best] = await faces.searchFaces(probe, { threshold: 90, maxResults: 1 })
 * ```
 */
export class FaceCollection {
  readonly collectionId: string
  readonly dimension: number
  /** The KMS key ARN protecting the face records. */
  readonly keyArn: string
  readonly keyKind: ProtectionKey['keyKind']
  readonly #config: VisionServiceConfig
  readonly #envelope: Envelope
  readonly #keyring: KmsKeyring
  /** Whether the faces of the collection share a data key (the cache is on). */
  readonly #shared: boolean

  private constructor(config: VisionServiceConfig, record: CollectionRecord, key: ProtectionKey) {
    this.#config = config
    this.collectionId = record.collectionId
    this.dimension = record.dimension
    this.keyArn = key.keyArn
    this.keyKind = key.keyKind
    const { envelope, keyring, shared } = envelopeFor(config, key)
    this.#envelope = envelope
    this.#keyring = keyring
    this.#shared = shared
  }

  /**
   * CreateCollection: validate the key (customer's if given, else the service's) and record the collection.
   *
   * @example
   * ```ts
   * const faces = await FaceCollection.create({ kms, storage, serviceKeyArn, collectionId: 'visitors', dimension: 512 })
   * ```
   */
  static async create(options: CreateCollectionOptions): Promise<FaceCollection> {
    const { collectionId, dimension, kmsKeyArn, ...config } = options
    assertCollectionId(collectionId)
    // Precondition: a vector length.
    if (!Number.isSafeInteger(dimension) || dimension < 1 || dimension > 65_536) {
      throw new ConfigurationError(
        `dimension ${String(dimension)} is out of range.`,
        "Use the face model's embedding length (1-65536), e.g. 128 or 512.",
      )
    }
    const { record, key } = await createResource<CollectionRecord>(
      config,
      resourceOf(collectionId),
      'Open it with FaceCollection.open(), or delete it first.',
      kmsKeyArn,
      { type: 'rekognition-collection', collectionId, dimension },
    )
    return new FaceCollection(config, record, key)
  }

  /**
   * Open an existing collection (VisionNotFoundError if there is none): its metadata record is
   * authenticated under the service key (VisionRecordError if it was edited, forged, or copied from
   * elsewhere) and its key is validated again.
   *
   * @example
   * ```ts
   * const faces = await FaceCollection.open({ kms, storage, serviceKeyArn, collectionId: 'visitors' })
   * ```
   */
  static async open(options: OpenCollectionOptions): Promise<FaceCollection> {
    const { collectionId, expectedKeyArn, ...config } = options
    assertCollectionId(collectionId)
    const { record, key } = await openResource<CollectionRecord>(
      config,
      resourceOf(collectionId),
      (r) =>
        r.type === 'rekognition-collection' &&
        r.collectionId === collectionId &&
        Number.isSafeInteger(r.dimension) &&
        r.dimension > 0,
      expectedKeyArn,
    )
    return new FaceCollection(config, record, key)
  }

  /**
   * IndexFaces for one face: store its vector and external image id, encrypted. Returns the new face id.
   *
   * @example
   * ```ts
   * const { faceId } = await faces.indexFace(new Float32Array(embedding), 'employee-42')
   * ```
   */
  async indexFace(vector: Float32Array, externalImageId: string): Promise<FaceRecord> {
    assertFaceVector(vector, this.dimension)
    assertExternalImageId(externalImageId)
    const faceId = randomUUID()
    const id = Buffer.from(externalImageId, 'utf8')
    const offset = ID_LENGTH_BYTES + id.length
    const plaintext = Buffer.alloc(offset + vector.length * 4)
    plaintext.writeUInt16BE(id.length, 0)
    id.copy(plaintext, ID_LENGTH_BYTES)
    for (let i = 0; i < vector.length; i++) plaintext.writeFloatLE(vector[i]!, offset + i * 4)
    let ciphertext: Uint8Array
    try {
      const context: EncryptionContext = this.#shared
        ? { ...this.#faceContext(faceId), [SHARED_DATA_KEY]: 'per-collection' }
        : this.#faceContext(faceId)
      ciphertext = await this.#envelope.encrypt(plaintext, { context })
    } finally {
      plaintext.fill(0)
    }
    await this.#config.storage.put(this.#faceKey(faceId), ciphertext)
    return { faceId, externalImageId }
  }

  /**
   * Faces whose similarity to `vector` is at least `threshold`, best first. Decrypts every face record
   * (each checked against its {collection, faceId} context) and wipes the decrypted vectors afterwards.
   *
   * @example
   * ```ts
   * const matches = await faces.searchFaces(probe, { threshold: 95, maxResults: 5 })
   * for (const m of matches) console.log(m.externalImageId, m.similarity.toFixed(1))
   * ```
   */
  async searchFaces(vector: Float32Array, options: SearchFacesOptions = {}): Promise<FaceMatch[]> {
    assertFaceVector(vector, this.dimension)
    const threshold = options.threshold ?? 80
    const maxResults = options.maxResults ?? 10
    // Precondition: Rekognition's ranges.
    if (!(threshold >= 0 && threshold <= 100)) {
      throw new ConfigurationError(`threshold ${threshold} is out of range.`, 'Use 0-100 (default 80).')
    }
    if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > 4096) {
      throw new ConfigurationError(`maxResults ${maxResults} is out of range.`, 'Use 1-4096 (default 10).')
    }
    const matches: FaceMatch[] = []
    for (const faceId of await this.listFaces()) {
      const { externalImageId, vector: stored } = await this.#readFace(faceId)
      try {
        const score = similarity(vector, stored)
        if (score >= threshold) matches.push({ faceId, externalImageId, similarity: score })
      } finally {
        stored.fill(0)
      }
    }
    return matches.sort((a, b) => b.similarity - a.similarity).slice(0, maxResults)
  }

  /**
   * The ids of the indexed faces.
   *
   * @example
   * ```ts
   * console.log((await faces.listFaces()).length)
   * ```
   */
  async listFaces(): Promise<string[]> {
    const prefix = `${prefixOf(this.collectionId)}/faces/`
    const ids: string[] = []
    for (const key of await this.#config.storage.list(prefix.slice(0, -1))) {
      const m = /^(.+)\.face\.kenv$/.exec(key.slice(prefix.length))
      if (m) ids.push(m[1]!)
    }
    return ids
  }

  /**
   * A face's external image id (decrypts its record; VisionNotFoundError if there is no such face).
   *
   * @example
   * ```ts
   * const { externalImageId } = await faces.getFace(faceId)
   * ```
   */
  async getFace(faceId: string): Promise<FaceRecord> {
    const { externalImageId, vector } = await this.#readFace(faceId)
    vector.fill(0)
    return { faceId, externalImageId }
  }

  /**
   * DeleteFaces for one face; true if it existed.
   *
   * @example
   * ```ts
   * await faces.deleteFace(faceId)
   * ```
   */
  async deleteFace(faceId: string): Promise<boolean> {
    return this.#config.storage.delete(this.#faceKey(assertFaceId(faceId)))
  }

  /**
   * DeleteCollection: remove every face record and the collection's metadata, and wipe this handle's cached
   * data keys.
   *
   * @example
   * ```ts
   * await faces.delete()
   * ```
   */
  async delete(): Promise<void> {
    this.#envelope.purge()
    await this.#config.storage.deletePrefix(prefixOf(this.collectionId))
  }

  /**
   * KMS calls made by this collection handle.
   *
   * @example
   * ```ts
   * console.log(faces.kmsCalls().decrypt)
   * ```
   */
  kmsCalls(): KmsKeyringStats {
    return this.#keyring.stats()
  }

  async #readFace(faceId: string): Promise<{ externalImageId: string; vector: Float32Array }> {
    assertFaceId(faceId)
    let ciphertext: Uint8Array
    try {
      ciphertext = await this.#config.storage.get(this.#faceKey(faceId))
    } catch (err) {
      if (err instanceof VisionNotFoundError)
        throw new VisionNotFoundError(`face ${faceId} in collection ${this.collectionId}`, { cause: err })
      throw err
    }
    const { plaintext } = await this.#envelope.decrypt(ciphertext, {
      expectedContext: this.#faceContext(faceId),
    })
    const record = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength)
    try {
      const idLength = record.length >= ID_LENGTH_BYTES ? record.readUInt16BE(0) : 0
      const offset = ID_LENGTH_BYTES + idLength
      // Postcondition: a record this collection wrote (authenticated, so only a bug or a foreign writer breaks it).
      if (idLength === 0 || record.length !== offset + this.dimension * 4) {
        throw new MalformedCiphertextError(
          `face record ${faceId} does not hold an external image id and a ${this.dimension}-float vector`,
        )
      }
      const vector = new Float32Array(this.dimension)
      for (let i = 0; i < vector.length; i++) vector[i] = record.readFloatLE(offset + i * 4)
      return { externalImageId: record.toString('utf8', ID_LENGTH_BYTES, offset), vector }
    } finally {
      plaintext.fill(0)
    }
  }

  #faceKey(faceId: string): string {
    return `${prefixOf(this.collectionId)}/faces/${faceId}.face.kenv`
  }
  /** The pairs every record of this face has (a record under a shared data key also has SHARED_DATA_KEY). */
  #faceContext(faceId: string): EncryptionContext {
    return { collection: this.collectionId, object: 'face', faceId }
  }
}
