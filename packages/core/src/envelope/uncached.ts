import type { CacheStats, Zeroizable } from '../cache/types.js'

/** A lease on a cached value; see DataKeyCache. */
export interface KeyLease<T> {
  readonly value: T
  release(): void
}

/** The part of DataKeyCache the envelope uses. */
export interface KeyCache<T extends Zeroizable> {
  acquireEncrypt(
    partition: string,
    plaintextBytes: number,
    load: () => Promise<{ value: T; notAfter?: number }>,
  ): Promise<KeyLease<T>>
  acquireDecrypt(key: string, load: () => Promise<{ value: T; notAfter?: number }>): Promise<KeyLease<T>>
  purge(match?: (key: string) => boolean): void
  stats(): CacheStats
}

/**
 * `cache: false`: every message gets its own data key (one KMS call per encrypt and per decrypt), wiped as
 * soon as the message is done.
 */
export class Uncached<T extends Zeroizable> implements KeyCache<T> {
  #loads = 0

  async acquireEncrypt(_p: string, _b: number, load: () => Promise<{ value: T }>): Promise<KeyLease<T>> {
    return this.#lease(await this.#load(load))
  }

  async acquireDecrypt(_k: string, load: () => Promise<{ value: T }>): Promise<KeyLease<T>> {
    return this.#lease(await this.#load(load))
  }

  purge(): void {}

  stats(): CacheStats {
    return { hits: 0, misses: this.#loads, loads: this.#loads, evictions: 0, entries: 0 }
  }

  async #load(load: () => Promise<{ value: T }>): Promise<T> {
    this.#loads++
    return (await load()).value
  }

  #lease(value: T): KeyLease<T> {
    let released = false
    return {
      value,
      release() {
        if (released) return
        released = true
        value.zeroize()
      },
    }
  }
}
