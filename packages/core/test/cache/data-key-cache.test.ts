import { randomBytes } from 'node:crypto'
import { ConfigurationError, DataKeyCache, type Lease } from '@kms-envelope/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

/** A value with real secret bytes that records how often it was zeroized. */
class Key {
  readonly bytes = randomBytes(32)
  zeroizeCount = 0
  constructor(readonly id: number) {}
  zeroize(): void {
    this.zeroizeCount++
    this.bytes.fill(0)
  }
  get wiped(): boolean {
    return this.bytes.every((b) => b === 0)
  }
}

function loader() {
  let n = 0
  const made: Key[] = []
  const load = async () => {
    const key = new Key(++n)
    made.push(key)
    return { value: key }
  }
  return { load, made, count: () => n }
}

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('DataKeyCache limits', () => {
  it('10,000 sequential encrypts with maxMessagesPerKey 1000 make exactly 10 loads', async () => {
    const cache = new DataKeyCache<Key>({ maxMessagesPerKey: 1000 })
    const { load, count, made } = loader()
    for (let i = 0; i < 10_000; i++) (await cache.acquireEncrypt('p', 10, load)).release()
    expect(count()).toBe(10)
    expect(cache.stats()).toMatchObject({ loads: 10, misses: 10, hits: 9990, evictions: 9, entries: 1 })
    // The nine exhausted keys were wiped; the current one is live.
    expect(made.slice(0, 9).every((k) => k.wiped && k.zeroizeCount === 1)).toBe(true)
    expect(made[9]!.wiped).toBe(false)
  })

  it('maxMessagesPerKey is exact: message 1000 uses key 1, message 1001 gets key 2', async () => {
    const cache = new DataKeyCache<Key>({ maxMessagesPerKey: 1000 })
    const { load } = loader()
    const ids: number[] = []
    for (let i = 0; i < 1001; i++) {
      const lease = await cache.acquireEncrypt('p', 0, load)
      ids.push(lease.value.id)
      lease.release()
    }
    expect(ids.filter((id) => id === 1)).toHaveLength(1000)
    expect(ids[1000]).toBe(2)
  })

  it('maxBytesPerKey is exact: a message that would pass the limit gets a new key', async () => {
    const cache = new DataKeyCache<Key>({ maxBytesPerKey: 100 })
    const { load } = loader()
    const id = async (bytes: number) => {
      const lease = await cache.acquireEncrypt('p', bytes, load)
      lease.release()
      return lease.value.id
    }
    expect(await id(60)).toBe(1)
    expect(await id(40)).toBe(1) // exactly 100
    expect(await id(1)).toBe(2)
    expect(await id(99)).toBe(2)
    expect(await id(0)).toBe(2) // zero-byte messages still fit
  })

  it('a single message larger than maxBytesPerKey gets a fresh uncached key, wiped on release', async () => {
    const cache = new DataKeyCache<Key>({ maxBytesPerKey: 100 })
    const { load } = loader()
    const warm = await cache.acquireEncrypt('p', 10, load)
    warm.release()
    const big = await cache.acquireEncrypt('p', 101, load)
    expect(big.value.id).toBe(2)
    expect(big.value.wiped).toBe(false)
    big.release()
    expect(big.value.wiped).toBe(true)
    expect(big.value.zeroizeCount).toBe(1)
    // The cached key was untouched and is still used.
    const again = await cache.acquireEncrypt('p', 10, load)
    expect(again.value.id).toBe(1)
    again.release()
    expect(cache.stats().entries).toBe(1)
  })

  it('maxAgeMs: the key expires exactly at age maxAgeMs (fake clock)', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({ maxAgeMs: 1000 }, { now: c.now })
    const { load, made } = loader()
    const id = async () => {
      const lease = await cache.acquireEncrypt('p', 1, load)
      lease.release()
      return lease.value.id
    }
    expect(await id()).toBe(1)
    c.advance(999)
    expect(await id()).toBe(1)
    c.advance(1)
    expect(await id()).toBe(2)
    expect(made[0]!.wiped).toBe(true)
  })

  it('maxAgeMs applies to the decrypt side too', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({ maxAgeMs: 50 }, { now: c.now })
    const { load, count } = loader()
    ;(await cache.acquireDecrypt('edk', load)).release()
    c.advance(49)
    ;(await cache.acquireDecrypt('edk', load)).release()
    expect(count()).toBe(1)
    c.advance(1)
    ;(await cache.acquireDecrypt('edk', load)).release()
    expect(count()).toBe(2)
  })

  it('notAfter ends a key before maxAgeMs', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({ maxAgeMs: 100_000 }, { now: c.now })
    let n = 0
    const load = async () => ({ value: new Key(++n), notAfter: c.now() + 10 })
    const id = async () => {
      const lease = await cache.acquireEncrypt('p', 1, load)
      lease.release()
      return lease.value.id
    }
    expect(await id()).toBe(1)
    c.advance(9)
    expect(await id()).toBe(1)
    c.advance(1)
    expect(await id()).toBe(2)
  })

  it('a value already past notAfter serves its caller but is not cached', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({}, { now: c.now })
    const stale = new Key(1)
    const lease = await cache.acquireEncrypt('p', 1, async () => ({ value: stale, notAfter: c.now() - 1 }))
    expect(lease.value).toBe(stale)
    expect(cache.stats().entries).toBe(0)
    lease.release()
    expect(stale.wiped).toBe(true)
  })

  it('capacity: least recently used entries are evicted across both sides', async () => {
    const cache = new DataKeyCache<Key>({ capacity: 3 })
    const { load, made } = loader()
    ;(await cache.acquireEncrypt('a', 1, load)).release() // key 1
    ;(await cache.acquireDecrypt('x', load)).release() // key 2
    ;(await cache.acquireEncrypt('b', 1, load)).release() // key 3
    ;(await cache.acquireEncrypt('a', 1, load)).release() // touch a: LRU order x, b, a
    ;(await cache.acquireDecrypt('y', load)).release() // key 4 evicts x
    expect(made[1]!.wiped).toBe(true)
    expect(made[0]!.wiped || made[2]!.wiped).toBe(false)
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 1, loads: 4 })
    ;(await cache.acquireEncrypt('c', 1, load)).release() // key 5 evicts b
    expect(made[2]!.wiped).toBe(true)
    const a = await cache.acquireEncrypt('a', 1, load)
    expect(a.value.id).toBe(1)
    a.release()
  })

  it('encrypt and decrypt sides never share entries, even with equal key strings', async () => {
    const cache = new DataKeyCache<Key>()
    const { load } = loader()
    const e = await cache.acquireEncrypt('same', 1, load)
    const d = await cache.acquireDecrypt('same', load)
    expect(e.value).not.toBe(d.value)
    e.release()
    d.release()
    expect(cache.stats().entries).toBe(2)
  })

  it.each([
    [{ maxAgeMs: 0 }],
    [{ maxAgeMs: -1 }],
    [{ maxAgeMs: 1.5 }],
    [{ maxMessagesPerKey: 0 }],
    [{ maxMessagesPerKey: 2 ** 32 + 1 }],
    [{ maxBytesPerKey: Number.NaN }],
    [{ capacity: Number.POSITIVE_INFINITY }],
    [{ capacity: '10' as unknown as number }],
  ])('rejects invalid limits %o with ConfigurationError', (limits) => {
    expect(() => new DataKeyCache<Key>(limits)).toThrow(ConfigurationError)
  })

  it('accepts the 2^32 ceiling and reports defaults', () => {
    expect(new DataKeyCache<Key>({ maxMessagesPerKey: 2 ** 32 }).limits.maxMessagesPerKey).toBe(2 ** 32)
    expect(new DataKeyCache<Key>().limits).toEqual({
      maxAgeMs: 300_000,
      maxMessagesPerKey: 2 ** 20,
      maxBytesPerKey: 2 ** 40,
      capacity: 1000,
    })
  })

  it('rejects a negative or fractional byte count', async () => {
    const cache = new DataKeyCache<Key>()
    const { load, count } = loader()
    await expect(cache.acquireEncrypt('p', -1, load)).rejects.toBeInstanceOf(ConfigurationError)
    await expect(cache.acquireEncrypt('p', 1.5, load)).rejects.toBeInstanceOf(ConfigurationError)
    expect(count()).toBe(0)
  })
})

describe('DataKeyCache single flight', () => {
  it('1,000 concurrent cold encrypts make exactly 1 load', async () => {
    const cache = new DataKeyCache<Key>({ maxMessagesPerKey: 1000 })
    const { load, count } = loader()
    const leases = await Promise.all(Array.from({ length: 1000 }, () => cache.acquireEncrypt('p', 1, load)))
    expect(count()).toBe(1)
    expect(new Set(leases.map((l) => l.value)).size).toBe(1)
    leases.forEach((l) => {
      l.release()
    })
    expect(cache.stats()).toMatchObject({ loads: 1, misses: 1000, hits: 0, entries: 1 })
  })

  it('1,001 concurrent cold encrypts make exactly 2 loads, 1000 + 1 messages', async () => {
    const cache = new DataKeyCache<Key>({ maxMessagesPerKey: 1000 })
    const { load, count } = loader()
    const leases = await Promise.all(Array.from({ length: 1001 }, () => cache.acquireEncrypt('p', 1, load)))
    expect(count()).toBe(2)
    const byKey = new Map<number, number>()
    for (const l of leases) byKey.set(l.value.id, (byKey.get(l.value.id) ?? 0) + 1)
    expect([...byKey.values()].sort((a, b) => a - b)).toEqual([1, 1000])
    // Key 1 is exhausted and evicted but still leased: not wiped until released.
    expect(leases.every((l) => !l.value.wiped)).toBe(true)
    leases.forEach((l) => {
      l.release()
    })
  })

  it('2,500 concurrent cold encrypts with 1000 per key make exactly 3 loads', async () => {
    const cache = new DataKeyCache<Key>({ maxMessagesPerKey: 1000 })
    const { load, count } = loader()
    const leases = await Promise.all(Array.from({ length: 2500 }, () => cache.acquireEncrypt('p', 1, load)))
    expect(count()).toBe(3)
    leases.forEach((l) => {
      l.release()
    })
  })

  it('concurrent byte reservations against a load in flight respect maxBytesPerKey', async () => {
    const cache = new DataKeyCache<Key>({ maxBytesPerKey: 100 })
    const { load, count } = loader()
    const leases = await Promise.all(Array.from({ length: 10 }, () => cache.acquireEncrypt('p', 30, load)))
    // 3 messages of 30 bytes fit in each key: 10 messages need 4 keys.
    expect(count()).toBe(4)
    leases.forEach((l) => {
      l.release()
    })
  })

  it('1,000 concurrent cold decrypts of one wrapped key make exactly 1 load', async () => {
    const cache = new DataKeyCache<Key>()
    const { load, count } = loader()
    const leases = await Promise.all(Array.from({ length: 1000 }, () => cache.acquireDecrypt('edk', load)))
    expect(count()).toBe(1)
    leases.forEach((l) => {
      l.release()
    })
  })

  it('different partitions load independently', async () => {
    const cache = new DataKeyCache<Key>()
    const { load, count } = loader()
    const leases = await Promise.all(
      Array.from({ length: 100 }, (_, i) => cache.acquireEncrypt(`p${i % 5}`, 1, load)),
    )
    expect(count()).toBe(5)
    leases.forEach((l) => {
      l.release()
    })
  })

  it('a rejected load rejects every waiter with the same error and caches nothing', async () => {
    const cache = new DataKeyCache<Key>()
    const boom = new Error('KMS down')
    let calls = 0
    const failing = async (): Promise<{ value: Key }> => {
      calls++
      await new Promise((r) => setTimeout(r, 5))
      throw boom
    }
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => cache.acquireEncrypt('p', 1, failing)),
    )
    expect(calls).toBe(1)
    expect(results.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true)
    expect(cache.stats().entries).toBe(0)
    const d = await Promise.allSettled([
      cache.acquireDecrypt('k', failing),
      cache.acquireDecrypt('k', failing),
    ])
    expect(d.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true)
    expect(calls).toBe(2)
    // The next acquire loads again.
    const { load } = loader()
    const lease = await cache.acquireEncrypt('p', 1, load)
    expect(lease.value.id).toBe(1)
    lease.release()
  })

  it('a load that throws synchronously rejects the acquire', async () => {
    const cache = new DataKeyCache<Key>()
    const err = new Error('sync')
    const load = (() => {
      throw err
    }) as unknown as () => Promise<{ value: Key }>
    await expect(cache.acquireEncrypt('p', 1, load)).rejects.toBe(err)
    expect(cache.stats().entries).toBe(0)
  })
})

describe('DataKeyCache leases and zeroization', () => {
  it('eviction while leased: zeroize runs once, only after the last release', async () => {
    const cache = new DataKeyCache<Key>()
    const { load } = loader()
    const a = await cache.acquireEncrypt('p', 1, load)
    const b = await cache.acquireEncrypt('p', 1, load)
    const key = a.value
    cache.purge()
    expect(cache.stats().entries).toBe(0)
    expect(key.wiped).toBe(false)
    a.release()
    a.release() // idempotent: must not drop b's hold
    expect(key.wiped).toBe(false)
    b.release()
    expect(key.wiped).toBe(true)
    expect(key.bytes.equals(Buffer.alloc(32))).toBe(true)
    expect(key.zeroizeCount).toBe(1)
    b.release()
    expect(key.zeroizeCount).toBe(1)
  })

  it('purge zeroizes unleased entries at once and the next acquire loads a new key', async () => {
    const cache = new DataKeyCache<Key>()
    const { load, made } = loader()
    ;(await cache.acquireEncrypt('p', 1, load)).release()
    ;(await cache.acquireDecrypt('d', load)).release()
    cache.purge()
    expect(made.every((k) => k.wiped && k.zeroizeCount === 1)).toBe(true)
    expect(cache.stats()).toMatchObject({ entries: 0, evictions: 2 })
    const lease = await cache.acquireEncrypt('p', 1, load)
    expect(lease.value.id).toBe(3)
    lease.release()
  })

  it('a load in flight across purge() serves its waiters but is not cached', async () => {
    const cache = new DataKeyCache<Key>()
    let resolve!: (k: { value: Key }) => void
    const slow = () => new Promise<{ value: Key }>((r) => (resolve = r))
    const pending = cache.acquireEncrypt('p', 1, slow)
    cache.purge()
    const key = new Key(7)
    resolve({ value: key })
    const lease = await pending
    expect(lease.value).toBe(key)
    expect(cache.stats().entries).toBe(0)
    lease.release()
    expect(key.wiped).toBe(true)
  })

  it('purge(match) evicts only matching entries and matching loads in flight', async () => {
    const cache = new DataKeyCache<Key>()
    const { load, made } = loader()
    ;(await cache.acquireEncrypt('keep', 1, load)).release()
    ;(await cache.acquireEncrypt('drop', 1, load)).release()
    ;(await cache.acquireDecrypt('drop:d', load)).release()
    let resolve!: (k: { value: Key }) => void
    const slow = () => new Promise<{ value: Key }>((r) => (resolve = r))
    const inFlight = cache.acquireDecrypt('drop:slow', slow)
    cache.purge((key) => key.startsWith('drop'))
    expect(made.map((k) => k.wiped)).toEqual([false, true, true])
    expect(cache.stats().entries).toBe(1)
    const late = new Key(9)
    resolve({ value: late })
    const lease = await inFlight
    expect(lease.value).toBe(late)
    expect(cache.stats().entries).toBe(1)
    lease.release()
    expect(late.wiped).toBe(true)
    // The kept entry still serves without a load.
    const kept = await cache.acquireEncrypt('keep', 1, load)
    expect(kept.value).toBe(made[0])
    kept.release()
    expect(made.length).toBe(3)
  })

  it('an entry expiring while leased is wiped only after release', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({ maxAgeMs: 10 }, { now: c.now })
    const { load } = loader()
    const held = await cache.acquireEncrypt('p', 1, load)
    c.advance(10)
    const next = await cache.acquireEncrypt('p', 1, load)
    expect(next.value).not.toBe(held.value)
    expect(held.value.wiped).toBe(false)
    held.release()
    expect(held.value.wiped).toBe(true)
    next.release()
  })

  it('expired entries are swept (and wiped) when another key loads', async () => {
    const c = clock()
    const cache = new DataKeyCache<Key>({ maxAgeMs: 10 }, { now: c.now })
    const { load, made } = loader()
    ;(await cache.acquireEncrypt('a', 1, load)).release()
    ;(await cache.acquireDecrypt('b', load)).release()
    c.advance(10)
    ;(await cache.acquireEncrypt('c', 1, load)).release()
    expect(made[0]!.wiped && made[1]!.wiped).toBe(true)
    expect(cache.stats().entries).toBe(1)
  })

  it('property: random interleavings never expose a wiped key and wipe every key exactly once', async () => {
    type Op =
      | { t: 'enc'; p: number; bytes: number }
      | { t: 'dec'; k: number }
      | { t: 'release'; i: number }
      | { t: 'tick'; ms: number }
      | { t: 'purge' }
      | { t: 'flush' }
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        t: fc.constant('enc' as const),
        p: fc.integer({ min: 0, max: 3 }),
        bytes: fc.integer({ min: 0, max: 40 }),
      }),
      fc.record({ t: fc.constant('dec' as const), k: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ t: fc.constant('release' as const), i: fc.nat() }),
      fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.constant({ t: 'purge' as const }),
      fc.constant({ t: 'flush' as const }),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 80 }),
        fc.record({
          maxMessagesPerKey: fc.integer({ min: 1, max: 4 }),
          maxBytesPerKey: fc.integer({ min: 1, max: 100 }),
          capacity: fc.integer({ min: 1, max: 4 }),
          maxAgeMs: fc.integer({ min: 1, max: 50 }),
        }),
        async (ops, limits) => {
          const c = clock()
          const cache = new DataKeyCache<Key>(limits, { now: c.now })
          const made: Key[] = []
          const usage = new Map<Key, { messages: number; bytes: number }>()
          const load = async () => {
            await Promise.resolve()
            const key = new Key(made.length)
            made.push(key)
            return { value: key }
          }
          const held: Lease<Key>[] = []
          const inflight: Promise<void>[] = []
          const take = (p: Promise<Lease<Key>>, bytes?: number) =>
            inflight.push(
              p.then((lease) => {
                // Invariant: a fresh lease never carries a wiped key.
                expect(lease.value.wiped).toBe(false)
                if (bytes !== undefined && bytes <= limits.maxBytesPerKey) {
                  const u = usage.get(lease.value) ?? { messages: 0, bytes: 0 }
                  u.messages++
                  u.bytes += bytes
                  usage.set(lease.value, u)
                }
                held.push(lease)
              }),
            )
          for (const o of ops) {
            if (o.t === 'enc') take(cache.acquireEncrypt(`p${o.p}`, o.bytes, load), o.bytes)
            else if (o.t === 'dec') take(cache.acquireDecrypt(`k${o.k}`, load))
            else if (o.t === 'release' && held.length > 0) {
              const [lease] = held.splice(o.i % held.length, 1)
              expect(lease!.value.wiped).toBe(false)
              lease!.release()
            } else if (o.t === 'tick') c.advance(o.ms)
            else if (o.t === 'purge') cache.purge()
            else if (o.t === 'flush') await Promise.all(inflight.splice(0))
            // Invariant: every held lease still sees its key intact.
            for (const lease of held) expect(lease.value.wiped).toBe(false)
          }
          await Promise.all(inflight)
          for (const lease of held) expect(lease.value.wiped).toBe(false)
          // Invariant: per-key limits were honoured.
          for (const u of usage.values()) {
            expect(u.messages).toBeLessThanOrEqual(limits.maxMessagesPerKey)
            expect(u.bytes).toBeLessThanOrEqual(limits.maxBytesPerKey)
          }
          expect(cache.stats().entries).toBeLessThanOrEqual(limits.capacity)
          held.forEach((l) => {
            l.release()
          })
          cache.purge()
          // Invariant: after everything is released and purged, every key was wiped exactly once.
          for (const key of made) {
            expect(key.zeroizeCount).toBe(1)
            expect(key.wiped).toBe(true)
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('idle expiry', () => {
  it('wipes an expired key even when no further call is made (unref timer)', async () => {
    const secret = Buffer.alloc(32, 0xab)
    const cache = new DataKeyCache<{ zeroize(): void }>({ maxAgeMs: 30 })
    const lease = await cache.acquireDecrypt('k', async () => ({ value: { zeroize: () => secret.fill(0) } }))
    lease.release()
    expect(secret.every((b) => b === 0xab)).toBe(true)
    await new Promise((r) => setTimeout(r, 120))
    expect(secret.every((b) => b === 0)).toBe(true)
    expect(cache.stats().entries).toBe(0)
  })
  it('a key that expires before the ones already cached is wiped at its own expiry (notAfter)', async () => {
    const early = Buffer.alloc(32, 0xcd)
    const cache = new DataKeyCache<{ zeroize(): void }>({ maxAgeMs: 60_000 })
    const late = await cache.acquireDecrypt('late', async () => ({ value: { zeroize: () => {} } }))
    late.release()
    const lease = await cache.acquireDecrypt('early', async () => ({
      value: { zeroize: () => early.fill(0) },
      notAfter: Date.now() + 30,
    }))
    lease.release()
    expect(early.every((b) => b === 0xcd)).toBe(true)
    await new Promise((r) => setTimeout(r, 150))
    expect(early.every((b) => b === 0)).toBe(true)
    expect(cache.stats().entries).toBe(1)
    cache.purge()
  })
})
