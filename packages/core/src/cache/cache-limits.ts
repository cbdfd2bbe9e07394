import { ConfigurationError } from '../errors/errors.js'
import type { CacheLimits } from './types.js'

/**
 * Default cache limits: 5 minutes, 2^20 messages and 2^40 bytes per data key, 1000 entries.
 *
 * @example
 * ```ts
 * import { DEFAULT_CACHE_LIMITS, Envelope } from '@kms-envelope/core'
 * const envelope = new Envelope({ keyring, cache: { ...DEFAULT_CACHE_LIMITS, maxAgeMs: 60_000 } })
 * ```
 */
export const DEFAULT_CACHE_LIMITS: CacheLimits = Object.freeze({
  maxAgeMs: 300_000,
  maxMessagesPerKey: 2 ** 20,
  maxBytesPerKey: 2 ** 40,
  capacity: 1000,
})

/**
 * Hard ceiling on messages per data key: 2^32. Larger `maxMessagesPerKey` values are refused.
 *
 * @example
 * ```ts
 * import { MAX_MESSAGES_CEILING } from '@kms-envelope/core'
 * new DataKeyCache({ maxMessagesPerKey: MAX_MESSAGES_CEILING }) // the most a data key may encrypt
 * ```
 */
export const MAX_MESSAGES_CEILING = 2 ** 32

/**
 * Fill in defaults and check every limit: positive safe integers, messages at most 2^32.
 *
 * @example
 * ```ts
 * import { resolveCacheLimits } from '@kms-envelope/core'
 * resolveCacheLimits({ maxAgeMs: 60_000 }) // { maxAgeMs: 60000, maxMessagesPerKey: 1048576, … }
 * ```
 */
export function resolveCacheLimits(limits: Partial<CacheLimits> = {}): CacheLimits {
  // Precondition: an object.
  if (typeof limits !== 'object' || limits === null) {
    throw new ConfigurationError(
      'Cache limits must be an object.',
      'Pass e.g. { maxAgeMs: 60_000 } or leave them out.',
    )
  }
  const resolved = { ...DEFAULT_CACHE_LIMITS }
  for (const name of Object.keys(DEFAULT_CACHE_LIMITS) as (keyof CacheLimits)[]) {
    const value = limits[name]
    if (value === undefined) continue
    // Precondition: every limit is a positive integer.
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigurationError(
        `Cache limit ${name} must be a positive integer, got ${String(value)}.`,
        `Pass a whole number above 0 (default ${DEFAULT_CACHE_LIMITS[name]}), or cache: false to turn caching off.`,
      )
    }
    resolved[name] = value
  }
  // Precondition: at most 2^32 messages per data key.
  if (resolved.maxMessagesPerKey > MAX_MESSAGES_CEILING) {
    throw new ConfigurationError(
      `maxMessagesPerKey ${resolved.maxMessagesPerKey} is above the hard ceiling of 2^32 messages per data key.`,
      'Use at most 4294967296 (the default 2^20 is recommended).',
    )
  }
  return Object.freeze(resolved)
}
