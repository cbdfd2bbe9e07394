import { randomBytes } from 'node:crypto'
import {
  getLocalCryptographicMaterialsCache,
  type KeyringNode,
  NodeCachingMaterialsManager,
  type NodeDecryptionMaterial,
  type NodeDecryptionRequest,
  type NodeEncryptionMaterial,
  type NodeMaterialsManager,
} from '@aws-crypto/client-node'
import { ConfigurationError } from '@kms-envelope/core'
import { refuseEncryption } from './guard.js'

/**
 * Limits of the data-key cache of an {@link EsdkReader} (the ESDK's own local cache and caching materials
 * manager). Give `cache: false` to the reader to call KMS for every message instead.
 *
 * @example
 * ```ts
 * const reader = new EsdkReader({ client, keyIds: [keyArn], cache: { capacity: 1000, maxAgeMs: 60_000 } })
 * ```
 */
export interface EsdkReaderCacheOptions {
  /** Most data keys held at once; the least recently used goes first. Default 100. */
  readonly capacity?: number
  /** How long a data key may be reused, in ms from the KMS Decrypt that unwrapped it. Default 300_000 (5 min). */
  readonly maxAgeMs?: number
}

/**
 * The reader cache's defaults: 100 data keys, 5 minutes (the age limit of core's data-key cache).
 *
 * @example
 * ```ts
 * new EsdkReader({ client, keyIds: [keyArn], cache: { ...DEFAULT_ESDK_READER_CACHE, maxAgeMs: 60_000 } })
 * ```
 */
export const DEFAULT_ESDK_READER_CACHE: Readonly<Required<EsdkReaderCacheOptions>> = Object.freeze({
  capacity: 100,
  maxAgeMs: 300_000,
})

/** The ESDK's cache interface (the type is not exported by `@aws-crypto/client-node` itself). */
type EsdkCache = NodeCachingMaterialsManager['_cache']

/** Longest delay Node's timers accept. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * @internal The data-key cache of one reader. The caching itself is the ESDK's: its local LRU cache
 * (`getLocalCryptographicMaterialsCache`) behind its caching materials manager (`NodeCachingMaterialsManager`),
 * which keys entries by SHA-512 of a random per-reader partition, the suite, every wrapped data key and the
 * whole encryption context, hands out clones, and zeroizes an entry when it is evicted or deleted. This class
 * only adds bookkeeping around the ESDK's cache (never a key, never cryptography):
 *
 * - it remembers which cache ids may be held and until when, so an expired key is wiped at its expiry
 *   (the ESDK never serves it, but alone evicts at most one stale entry a minute) and `purge()` can wipe
 *   them all;
 * - concurrent requests for the very same wrapped key and context wait for the first one's KMS call and then
 *   ask the ESDK's cache again, instead of each calling KMS. What they wait on is only a hint: the key they
 *   get still comes from the ESDK's cache lookup (or their own KMS call).
 */
export class ReaderDecryptCache {
  readonly capacity: number
  readonly maxAgeMs: number
  readonly #esdk: EsdkCache
  /** Random per reader: one reader's entries are never another's. */
  readonly #partition = randomBytes(64).toString('base64')
  /**
   * Every id the ESDK's LRU may hold (a superset), least recently used first: it mirrors the LRU's order and
   * capacity, and an id dropped here is deleted from the ESDK's cache too.
   */
  readonly #recency = new Set<string>()
  /** The same ids with their expiry (epoch ms), in the order they were cached, which is expiry order. */
  readonly #expiries = new Map<string, number>()
  readonly #inflight = new Map<string, Promise<void>>()
  readonly #view: EsdkCache
  #timer: NodeJS.Timeout | undefined

  constructor(options: EsdkReaderCacheOptions) {
    // Precondition: an options object.
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError(
        `EsdkReader cache must be false or an object, got ${String(options)}.`,
        'Pass cache: false (a KMS Decrypt per message) or e.g. cache: { capacity: 100, maxAgeMs: 300_000 }.',
      )
    }
    this.capacity = positive('capacity', options.capacity ?? DEFAULT_ESDK_READER_CACHE.capacity)
    this.maxAgeMs = positive('maxAgeMs', options.maxAgeMs ?? DEFAULT_ESDK_READER_CACHE.maxAgeMs)
    this.#esdk = getLocalCryptographicMaterialsCache(this.capacity)
    const esdk = this.#esdk
    this.#view = {
      getDecryptionMaterial: (id) => {
        const entry = esdk.getDecryptionMaterial(id)
        if (!entry) {
          this.#forget(id)
          return entry
        }
        if (!this.#expiries.has(id)) this.#expiries.set(id, entry.now + this.maxAgeMs)
        this.#touch(id)
        return entry
      },
      putDecryptionMaterial: (id, material, maxAge) => {
        esdk.putDecryptionMaterial(id, material, maxAge)
        this.#expiries.delete(id)
        this.#expiries.set(id, Date.now() + this.maxAgeMs)
        this.#touch(id)
        if (this.#timer === undefined) this.#arm(this.maxAgeMs)
      },
      del: (id) => {
        esdk.del(id)
        this.#forget(id)
      },
      getEncryptionMaterial: refuseEncryption,
      putEncryptionMaterial: refuseEncryption,
      getBranchKeyMaterial: refuseEncryption,
      putBranchKeyMaterial: refuseEncryption,
    }
  }

  /** Data keys held now (expired ones are wiped by the sweep). */
  get size(): number {
    return this.#recency.size
  }

  /**
   * The materials manager of one reader operation: the ESDK's caching materials manager over this cache,
   * backed by the operation's own keyring (so KMS calls and errors are logged per operation).
   */
  materialsManager(keyring: KeyringNode): NodeMaterialsManager {
    const caching = new NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: this.#view,
      partition: this.#partition,
      maxAge: this.maxAgeMs,
    })
    return {
      getEncryptionMaterials: async (): Promise<NodeEncryptionMaterial> => refuseEncryption(),
      decryptMaterials: (request) => this.#coalesced(request, () => caching.decryptMaterials(request)),
    }
  }

  /** Delete every cached data key now; the ESDK's cache zeroizes each as it goes. */
  purge(): void {
    for (const id of [...this.#recency]) this.#view.del(id)
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Mark `id` most recently used; drop (and delete from the ESDK's cache) what falls beyond capacity. */
  #touch(id: string): void {
    this.#recency.delete(id)
    this.#recency.add(id)
    for (const oldest of this.#recency) {
      if (this.#recency.size <= this.capacity) break
      this.#view.del(oldest)
    }
  }

  #forget(id: string): void {
    this.#recency.delete(id)
    this.#expiries.delete(id)
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#sweep(), Math.min(Math.max(delay, 1), MAX_TIMER_MS))
    this.#timer.unref()
  }

  /** Wipe the keys that expired (the oldest first), then wait for the next expiry. */
  #sweep(): void {
    this.#timer = undefined
    const now = Date.now()
    for (const [id, expiresAt] of this.#expiries) {
      if (expiresAt > now) {
        this.#arm(expiresAt - now)
        return
      }
      this.#view.del(id)
    }
  }

  /**
   * Run `load` (the ESDK caching manager's lookup) after any running load of the identical request has
   * settled, so N concurrent reads of messages sharing a data key make one KMS call, not N. Suites the ESDK
   * never caches (no KDF) are not held back.
   */
  async #coalesced(
    request: NodeDecryptionRequest,
    load: () => Promise<NodeDecryptionMaterial>,
  ): Promise<NodeDecryptionMaterial> {
    if (!request.suite.cacheSafe) return load()
    const id = requestIdentity(request)
    for (let running = this.#inflight.get(id); running; running = this.#inflight.get(id)) await running
    const result = load()
    const settled = result.then(
      () => void this.#inflight.delete(id),
      () => void this.#inflight.delete(id),
    )
    this.#inflight.set(id, settled)
    return result
  }
}

/** The exact request (suite, wrapped keys in order, context): only used to decide whether to wait. */
function requestIdentity({ suite, encryptedDataKeys, encryptionContext }: NodeDecryptionRequest): string {
  return JSON.stringify([
    suite.id,
    encryptedDataKeys.map((e) => [
      e.providerId,
      e.providerInfo,
      Buffer.from(e.encryptedDataKey).toString('base64'),
    ]),
    Object.entries(encryptionContext).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ])
}

function positive(name: string, value: unknown): number {
  // Precondition: a positive whole number.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(
      `EsdkReader cache.${name} must be a positive integer, got ${String(value)}.`,
      `Pass a whole number above 0 (default ${DEFAULT_ESDK_READER_CACHE[name as keyof EsdkReaderCacheOptions]}), or cache: false to call KMS for every message.`,
    )
  }
  return value
}
