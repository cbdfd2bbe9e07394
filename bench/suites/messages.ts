/**
 * Whole-message throughput at several sizes: raw AES-256-GCM, our envelope (warm cache), the ESDK with its
 * caching CMM (committing non-signing suite) and the ESDK default (signed) suite. Same payload buffer for
 * all subjects; ciphertexts for the decrypt runs are made once, up front.
 */
import { randomBytes } from 'node:crypto'
import { FakeKms } from '../harness/fake-kms.js'
import {
  type Measurement,
  type MeasureOptions,
  measure,
  pairedRatio,
  type Subject,
} from '../harness/measure.js'
import { esdkCached, esdkDefault, rawAesKeyring } from '../subjects/esdk.js'
import { ourEnvelope } from '../subjects/ours.js'
import { rawDecrypt, rawEncrypt } from '../subjects/raw.js'

/** Subjects of the message benchmark, in table order. */
export const MESSAGE_SUBJECTS = ['raw', 'ours', 'esdkCached', 'esdkDefault'] as const
export type MessageSubject = (typeof MESSAGE_SUBJECTS)[number]

/** One line of results: median ops/s of every subject for one size and operation. */
export interface MessageRow {
  readonly size: number
  readonly op: 'encrypt' | 'decrypt'
  /** Ops started together per step (1 = sequential awaited loop). */
  readonly concurrency: number
  readonly opsPerSec: Readonly<Record<MessageSubject, number>>
  /** Median of per-round ratios to raw (rounds ran back to back): the figure the targets use. */
  readonly vsRaw: Readonly<Record<MessageSubject, number>>
  /** The same ratio on CPU time of this process (see harness/measure.ts). */
  readonly vsRawCpu: Readonly<Record<MessageSubject, number>>
}

/** Options of {@link benchMessages}. */
export interface MessageBenchOptions {
  readonly sizes: readonly number[]
  readonly measure: MeasureOptions
  readonly context: Record<string, string>
  /** Also measure this size with `concurrency` ops in flight (e.g. 1024). */
  readonly concurrentSize?: number
  readonly concurrency?: number
}

/**
 * Run the message benchmark.
 *
 * @example
 * ```ts
 * const rows = await benchMessages({ sizes: [1024], context: { tenant: 'acme' },
 *   measure: { warmupMs: 100, rounds: 3, roundMs: 100 } })
 * ```
 */
export async function benchMessages(options: MessageBenchOptions): Promise<MessageRow[]> {
  const context = options.context
  const key = randomBytes(32)
  const ours = ourEnvelope(new FakeKms())
  const cached = esdkCached(rawAesKeyring(), context)
  const signed = esdkDefault(rawAesKeyring(), context)
  const rows: MessageRow[] = []

  const run = async (size: number, concurrency: number): Promise<void> => {
    const payload = randomBytes(size)
    const messages = {
      raw: rawEncrypt(key, payload),
      ours: await ours.encrypt(payload, { context }),
      esdkCached: await cached.encrypt(payload),
      esdkDefault: await signed.encrypt(payload),
    }
    // Postcondition: every subject round-trips this payload (a broken subject must not post numbers).
    for (const decrypted of [
      rawDecrypt(key, messages.raw),
      (await ours.decrypt(messages.ours)).plaintext,
      await cached.decrypt(messages.esdkCached),
      await signed.decrypt(messages.esdkDefault),
    ]) {
      if (!Buffer.from(decrypted).equals(payload)) throw new Error(`round trip failed at ${size} bytes`)
    }
    const batch = concurrency
    const subjects = {
      encrypt: {
        raw: () => rawEncrypt(key, payload),
        ours: () => ours.encrypt(payload, { context }),
        esdkCached: () => cached.encrypt(payload),
        esdkDefault: () => signed.encrypt(payload),
      },
      decrypt: {
        raw: () => rawDecrypt(key, messages.raw),
        ours: () => ours.decrypt(messages.ours),
        esdkCached: () => cached.decrypt(messages.esdkCached),
        esdkDefault: () => signed.decrypt(messages.esdkDefault),
      },
    }
    // Raw and ours interleaved (the targets compare them); the ESDK apart, with fewer rounds (it is 20-400×
    // slower, and its garbage must not be collected on our time).
    const esdkMeasure = { ...options.measure, rounds: Math.max(3, Math.ceil(options.measure.rounds / 3)) }
    for (const op of ['encrypt', 'decrypt'] as const) {
      const s = subjects[op]
      const group = (names: readonly MessageSubject[]): Subject[] =>
        names.map((name) => ({ name, batch, op: s[name] }))
      const results = [
        ...(await measure(group(['raw', 'ours']), options.measure)),
        ...(await measure(group(['esdkCached', 'esdkDefault']), esdkMeasure)),
      ]
      const pick = (f: (r: Measurement) => number) =>
        Object.fromEntries(results.map((r) => [r.name, f(r)])) as Record<MessageSubject, number>
      const raw = results.find((r) => r.name === 'raw')
      rows.push({
        size,
        op,
        concurrency,
        opsPerSec: pick((r) => r.opsPerSec),
        vsRaw: pick((r) =>
          r.name === 'ours' || r.name === 'raw'
            ? pairedRatio(r.rounds, raw?.rounds ?? [])
            : r.opsPerSec / (raw?.opsPerSec ?? Number.NaN),
        ),
        vsRawCpu: pick((r) =>
          r.name === 'ours' || r.name === 'raw'
            ? pairedRatio(r.cpuRounds, raw?.cpuRounds ?? [])
            : r.opsPerCpuSec / (raw?.opsPerCpuSec ?? Number.NaN),
        ),
      })
    }
  }

  for (const size of options.sizes) await run(size, 1)
  if (options.concurrentSize !== undefined && (options.concurrency ?? 1) > 1) {
    await run(options.concurrentSize, options.concurrency ?? 1)
  }
  return rows
}
