/**
 * The data-key cache: one cached value per encrypt partition (keyring + encryption context) and per
 * wrapped-key identity on the decrypt side, with the limits of the AWS Encryption SDK caching CMM (age,
 * messages and bytes per key, LRU capacity), single-flight loads, and leases so that an evicted key is
 * zeroized only after the last operation using it is done.
 */
import { ConfigurationError } from '../errors/errors.js'
import { resolveCacheLimits } from './cache-limits.js'
import type { CacheLimits, CacheStats, Lease, Loaded, Zeroizable } from './types.js'

type Load<T> = () => Promise<Loaded<T>>

/** One cached value. Also a node of the LRU list (least recently used first). */
class Entry<T extends Zeroizable> {
  prev: Entry<T> | undefined = undefined
  next: Entry<T> | undefined = undefined
  evicted = false
  zeroized = false
  constructor(
    readonly map: Map<string, Entry<T>> | undefined,
    readonly key: string,
    readonly value: T,
    readonly expiresAt: number,
    public messages: number,
    public bytes: number,
    public leases: number,
  ) {}
}

/** A load in flight: the waiters that joined it and what they reserved. */
interface Pending<T extends Zeroizable> {
  messages: number
  bytes: number
  waiters: number
  promise: Promise<Entry<T>>
  /** Resolves (never rejects) when the load is done. */
  settled: Promise<void>
  /** Set by purge(): the loaded value is handed to its waiters but not cached. */
  purged: boolean
}

function zeroize<T extends Zeroizable>(entry: Entry<T>): void {
  if (entry.zeroized) return
  entry.zeroized = true
  entry.value.zeroize()
}

class CacheLease<T extends Zeroizable> implements Lease<T> {
  readonly value: T
  #entry: Entry<T> | undefined
  constructor(entry: Entry<T>) {
    this.value = entry.value
    this.#entry = entry
  }
  release(): void {
    const entry = this.#entry
    if (entry === undefined) return
    this.#entry = undefined
    entry.leases--
    if (entry.evicted && entry.leases === 0) zeroize(entry)
  }
}

const noop = (): void => {}

/**
 * Caches data keys (or anything {@link Zeroizable}) within limits, loading each missing key once however
 * many callers ask for it concurrently. Every `Envelope` has one; use it directly for your own keyrings.
 *
 * @example
 * ```ts
 * import { DataKeyCache } from '@kms-envelope/core'
 *
 * const cache = new DataKeyCache<MyKey>({ maxAgeMs: 60_000, maxMessagesPerKey: 1000 })
 * const lease = await cache.acquireEncrypt('tenant=acme', plaintext.length, async () => ({ value: await newKey() }))
 * try {
 *   encryptWith(lease.value, plaintext)
 * } finally {
 *   lease.release()
 * }
 * ```
 */
export class DataKeyCache<T extends Zeroizable> {
  readonly limits: CacheLimits
  readonly #now: () => number
  readonly #maxAge: number
  readonly #maxMessages: number
  readonly #maxBytes: number
  readonly #capacity: number
  readonly #encrypt = new Map<string, Entry<T>>()
  readonly #decrypt = new Map<string, Entry<T>>()
  #encryptPending = new Map<string, Pending<T>>()
  #decryptPending = new Map<string, Pending<T>>()
  /** LRU list: head is least recently used. */
  #head: Entry<T> | undefined
  #tail: Entry<T> | undefined
  #hits = 0
  #misses = 0
  #loads = 0
  #evictions = 0
  #sweepTimer: ReturnType<typeof setTimeout> | undefined
  /** When the armed sweep timer fires (clock time). */
  #sweepAt = Number.POSITIVE_INFINITY

  constructor(limits: Partial<CacheLimits> = {}, options: { now?: () => number } = {}) {
    this.limits = resolveCacheLimits(limits)
    this.#maxAge = this.limits.maxAgeMs
    this.#maxMessages = this.limits.maxMessagesPerKey
    this.#maxBytes = this.limits.maxBytesPerKey
    this.#capacity = this.limits.capacity
    this.#now = options.now ?? Date.now
  }

  /**
   * Reserve one message of `plaintextBytes` under the cached value of `partition`, loading a new value
   * (once, for all concurrent callers) when there is none, it expired, or the reservation would exceed
   * the per-key limits. A message larger than `maxBytesPerKey` gets its own uncached value.
   */
  acquireEncrypt(partition: string, plaintextBytes: number, load: Load<T>): Promise<Lease<T>> {
    // Precondition: a byte count.
    if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
      return Promise.reject(
        new ConfigurationError(
          `plaintextBytes must be a non-negative integer, got ${String(plaintextBytes)}.`,
          'Pass the plaintext length in bytes.',
        ),
      )
    }
    const entry = this.#encrypt.get(partition)
    if (
      entry !== undefined &&
      entry.messages < this.#maxMessages &&
      entry.bytes + plaintextBytes <= this.#maxBytes &&
      this.#now() < entry.expiresAt
    ) {
      entry.messages++
      entry.bytes += plaintextBytes
      entry.leases++
      this.#hits++
      this.#touch(entry)
      return Promise.resolve(new CacheLease(entry))
    }
    return this.#encryptSlow(partition, plaintextBytes, load)
  }

  /** Lease the cached value for the wrapped-key identity `key`, loading it (once) when absent or expired. */
  acquireDecrypt(key: string, load: Load<T>): Promise<Lease<T>> {
    const entry = this.#decrypt.get(key)
    if (entry !== undefined && this.#now() < entry.expiresAt) {
      entry.leases++
      this.#hits++
      this.#touch(entry)
      return Promise.resolve(new CacheLease(entry))
    }
    return this.#decryptSlow(key, load)
  }

  /**
   * Evict every entry now, or only those whose cache key `match` accepts; each is zeroized as soon as its
   * last lease is released. Loads in flight that match still serve their waiters but are not cached.
   *
   * @example
   * ```ts
   * cache.purge() // everything
   * cache.purge((key) => key.startsWith('tenant=acme')) // one partition family
   * ```
   */
  purge(match?: (key: string) => boolean): void {
    for (const pendingMap of [this.#encryptPending, this.#decryptPending]) {
      for (const [key, pending] of pendingMap) {
        if (match !== undefined && !match(key)) continue
        pending.purged = true
        pendingMap.delete(key)
      }
    }
    for (let e = this.#head; e !== undefined; ) {
      const next = e.next
      if (match === undefined || match(e.key)) this.#evict(e)
      e = next
    }
  }

  /** Counters: hits, misses, loads (keyring calls), evictions, entries. */
  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      loads: this.#loads,
      evictions: this.#evictions,
      entries: this.#encrypt.size + this.#decrypt.size,
    }
  }

  async #encryptSlow(partition: string, bytes: number, load: Load<T>): Promise<Lease<T>> {
    this.#misses++
    if (bytes > this.#maxBytes) {
      // One message above the per-key byte limit: its own value, never cached, zeroized on release.
      this.#loads++
      const { value } = await load()
      const entry = new Entry<T>(undefined, '', value, 0, 1, bytes, 1)
      entry.evicted = true
      return new CacheLease(entry)
    }
    for (;;) {
      const entry = this.#encrypt.get(partition)
      if (entry !== undefined) {
        if (
          entry.messages < this.#maxMessages &&
          entry.bytes + bytes <= this.#maxBytes &&
          this.#now() < entry.expiresAt
        ) {
          entry.messages++
          entry.bytes += bytes
          entry.leases++
          this.#touch(entry)
          return new CacheLease(entry)
        }
        // Expired, exhausted, or this message does not fit: a new data key.
        this.#evict(entry)
      }
      const pending =
        this.#encryptPending.get(partition) ??
        this.#startLoad(this.#encrypt, this.#encryptPending, partition, load)
      if (pending.messages < this.#maxMessages && pending.bytes + bytes <= this.#maxBytes) {
        pending.messages++
        pending.bytes += bytes
        pending.waiters++
        return new CacheLease(await pending.promise)
      }
      // The load in flight is fully reserved: wait for it, then take (or load) the next key.
      await pending.settled
    }
  }

  async #decryptSlow(key: string, load: Load<T>): Promise<Lease<T>> {
    this.#misses++
    const stale = this.#decrypt.get(key)
    if (stale !== undefined) this.#evict(stale)
    const pending =
      this.#decryptPending.get(key) ?? this.#startLoad(this.#decrypt, this.#decryptPending, key, load)
    pending.waiters++
    return new CacheLease(await pending.promise)
  }

  /** Start the single load for `key`. Its entry starts with the waiters' reservations and leases. */
  #startLoad(
    map: Map<string, Entry<T>>,
    pendingMap: Map<string, Pending<T>>,
    key: string,
    load: Load<T>,
  ): Pending<T> {
    this.#loads++
    const pending = { messages: 0, bytes: 0, waiters: 0, purged: false } as Pending<T>
    pending.promise = (async () => {
      let loaded: Loaded<T>
      try {
        loaded = await load()
      } finally {
        if (pendingMap.get(key) === pending) pendingMap.delete(key)
      }
      const now = this.#now()
      const notAfter = loaded.notAfter
      const expiresAt =
        typeof notAfter === 'number' && notAfter < now + this.#maxAge ? notAfter : now + this.#maxAge
      const entry = new Entry<T>(
        map,
        key,
        loaded.value,
        expiresAt,
        pending.messages,
        pending.bytes,
        pending.waiters,
      )
      // Postcondition: cache only a live value that no purge() covered while it loaded.
      if (!pending.purged && now < expiresAt) this.#insert(entry)
      else entry.evicted = true
      return entry
    })()
    pending.settled = pending.promise.then(noop, noop)
    pendingMap.set(key, pending)
    return pending
  }

  /** Evict (and so zeroize) every expired entry; returns the earliest remaining expiry. */
  #sweep(): number {
    const now = this.#now()
    let earliest = Number.POSITIVE_INFINITY
    for (let e = this.#head; e !== undefined; ) {
      const next = e.next
      if (now >= e.expiresAt) this.#evict(e)
      else if (e.expiresAt < earliest) earliest = e.expiresAt
      e = next
    }
    return earliest
  }

  /**
   * Expired keys are wiped even when the cache sits idle: one unref'd timer (it never keeps the process
   * alive) fires at the earliest expiry and re-arms itself while entries remain.
   */
  #scheduleSweep(earliest: number): void {
    if (earliest === Number.POSITIVE_INFINITY) return
    if (this.#sweepTimer !== undefined) {
      // An entry expiring before the armed timer (e.g. a short notAfter) re-arms it for its own expiry.
      if (this.#sweepAt <= earliest) return
      clearTimeout(this.#sweepTimer)
    }
    const delay = Math.max(0, Math.min(earliest - this.#now(), 2 ** 31 - 1))
    this.#sweepAt = earliest
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = undefined
      this.#scheduleSweep(this.#sweep())
    }, delay + 1)
    this.#sweepTimer.unref?.()
  }

  #insert(entry: Entry<T>): void {
    // Drop expired entries first.
    this.#sweep()
    const previous = entry.map!.get(entry.key)
    if (previous !== undefined) this.#evict(previous)
    entry.map!.set(entry.key, entry)
    entry.prev = this.#tail
    if (this.#tail) this.#tail.next = entry
    else this.#head = entry
    this.#tail = entry
    while (this.#encrypt.size + this.#decrypt.size > this.#capacity && this.#head !== entry) {
      this.#evict(this.#head!)
    }
    this.#scheduleSweep(entry.expiresAt)
  }

  /** Move to the most recently used end. */
  #touch(entry: Entry<T>): void {
    if (this.#tail === entry) return
    const { prev, next } = entry
    if (prev) prev.next = next
    else this.#head = next
    next!.prev = prev
    entry.prev = this.#tail
    entry.next = undefined
    this.#tail!.next = entry
    this.#tail = entry
  }

  /** Remove from the cache now; zeroize now if unused, else when the last lease is released. */
  #evict(entry: Entry<T>): void {
    if (entry.evicted) return
    entry.evicted = true
    this.#evictions++
    if (entry.map?.get(entry.key) === entry) entry.map.delete(entry.key)
    const { prev, next } = entry
    if (prev) prev.next = next
    else if (this.#head === entry) this.#head = next
    if (next) next.prev = prev
    else if (this.#tail === entry) this.#tail = prev
    entry.prev = undefined
    entry.next = undefined
    if (entry.leases === 0) zeroize(entry)
  }
}
