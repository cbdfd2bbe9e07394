/** The data-key cache: limits, single-flight loads, leases and zeroization. */
export { DEFAULT_CACHE_LIMITS, MAX_MESSAGES_CEILING, resolveCacheLimits } from './cache-limits.js'
export { DataKeyCache } from './data-key-cache.js'
export type { CacheLimits, CacheStats, Lease, Loaded, Zeroizable } from './types.js'
