/** Something the data-key cache holds: it must be able to wipe its secrets. */
export interface Zeroizable {
  /** Overwrite every secret buffer with zeros. Called exactly once, when the last lease is released after eviction. */
  zeroize(): void
}

/** Limits on one cached data key (like the AWS Encryption SDK caching CMM), plus the cache size. */
export interface CacheLimits {
  /** Maximum age of a cached data key in ms (from creation). Default 300_000 (5 min). */
  readonly maxAgeMs: number
  /** Maximum messages encrypted under one data key. Default 2**20; hard ceiling 2**32. */
  readonly maxMessagesPerKey: number
  /** Maximum plaintext bytes encrypted under one data key. Default 2**40. */
  readonly maxBytesPerKey: number
  /** Maximum entries (encrypt + decrypt side together), LRU-evicted. Default 1000. */
  readonly capacity: number
}

/** Counters the user can read. */
export interface CacheStats {
  readonly hits: number
  readonly misses: number
  /** Loads that actually ran (each one is one keyring call, i.e. one GenerateDataKey or Decrypt round). */
  readonly loads: number
  readonly evictions: number
  readonly entries: number
}

/**
 * A hold on a cached value. The value is never zeroized while any lease on it is outstanding; call
 * `release()` (idempotent) when the operation is done, also on failure.
 */
export interface Lease<T> {
  readonly value: T
  release(): void
}

/** What a cache load produces: the value and, optionally, the epoch ms after which it must not be used. */
export interface Loaded<T> {
  readonly value: T
  readonly notAfter?: number
}
