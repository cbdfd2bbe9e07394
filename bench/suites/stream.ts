/**
 * Streaming throughput over a large object (64 MiB by default) fed in 64 KiB chunks: raw AES-256-GCM in a
 * Transform (the limit), our encryptStream/decryptStream (default 1 MiB frames), and the ESDK's streams
 * (committing non-signing suite, its default 4 KiB frames). Median MB/s (MB = 10^6 bytes) of plaintext.
 */
import { randomBytes } from 'node:crypto'
import type { Duplex, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FakeKms } from '../harness/fake-kms.js'
import { collectGarbage, median, pairedRatio, stopwatch } from '../harness/measure.js'
import { collectingSink, countingSink, repeatSource, sliceSource } from '../harness/streams.js'
import { esdkDecryptStream, esdkEncryptStream, rawAesKeyring } from '../subjects/esdk.js'
import { ourEnvelope } from '../subjects/ours.js'
import { rawDecryptStream, rawEncryptStream } from '../subjects/raw.js'

export const STREAM_SUBJECTS = ['raw', 'ours', 'esdk'] as const
export type StreamSubject = (typeof STREAM_SUBJECTS)[number]

/** Median MB/s per subject, encrypt and decrypt. */
export interface StreamResult {
  readonly bytes: number
  readonly chunkSize: number
  readonly encryptMBps: Readonly<Record<StreamSubject, number>>
  readonly decryptMBps: Readonly<Record<StreamSubject, number>>
  /** Ours / raw, median of per-round ratios (rounds ran back to back). */
  readonly oursVsRaw: { readonly encrypt: number; readonly decrypt: number }
  /** The same ratio on CPU time of this process (see harness/measure.ts). */
  readonly oursVsRawCpu: { readonly encrypt: number; readonly decrypt: number }
}

/** Options of {@link benchStream}. */
export interface StreamBenchOptions {
  readonly bytes: number
  readonly chunkSize: number
  /** Timed rounds of raw and ours (fast). */
  readonly rounds: number
  /** Timed rounds of the ESDK (slow: ~0.5 s per 64 MiB); at most `rounds`. */
  readonly esdkRounds: number
  readonly context: Record<string, string>
}

type Factory = { encrypt: () => Transform | Duplex; decrypt: () => Transform | Duplex }

async function timed(run: () => Promise<number>, bytes: number): Promise<{ wall: number; cpu: number }> {
  const elapsed = stopwatch()
  const out = await run()
  const { wall, cpu } = elapsed()
  // Postcondition: the whole object went through.
  if (out !== bytes) throw new Error(`stream produced ${out} bytes, expected ${bytes}`)
  return { wall: bytes / 1e3 / wall, cpu: bytes / 1e3 / Math.max(cpu, 1e-3) }
}

/**
 * Run the stream benchmark.
 *
 * @example
 * ```ts
 * const r = await benchStream({ bytes: 64 << 20, chunkSize: 65536, rounds: 3, context: { tenant: 'acme' } })
 * ```
 */
export async function benchStream(options: StreamBenchOptions): Promise<StreamResult> {
  const { bytes, chunkSize, context } = options
  const chunk = randomBytes(chunkSize)
  const key = randomBytes(32)
  const ours = ourEnvelope(new FakeKms())
  const keyring = rawAesKeyring()
  const factories: Record<StreamSubject, Factory> = {
    raw: { encrypt: () => rawEncryptStream(key), decrypt: () => rawDecryptStream(key) },
    ours: { encrypt: () => ours.encryptStream({ context }), decrypt: () => ours.decryptStream() },
    esdk: { encrypt: () => esdkEncryptStream(keyring, context), decrypt: () => esdkDecryptStream(keyring) },
  }
  const enc: Record<StreamSubject, number[]> = { raw: [], ours: [], esdk: [] }
  const dec: Record<StreamSubject, number[]> = { raw: [], ours: [], esdk: [] }
  const encCpu: Record<StreamSubject, number[]> = { raw: [], ours: [], esdk: [] }
  const decCpu: Record<StreamSubject, number[]> = { raw: [], ours: [], esdk: [] }
  const ciphertexts = {} as Record<StreamSubject, Buffer>
  for (const name of STREAM_SUBJECTS) {
    const { sink, chunks } = collectingSink()
    await pipeline(repeatSource(chunk, bytes), factories[name].encrypt(), sink)
    ciphertexts[name] = Buffer.concat(chunks)
  }
  collectGarbage()
  // Round -1 is a warm-up (JIT, buffer pools): run, not recorded.
  for (let r = -1; r < options.rounds; r++) {
    for (const name of STREAM_SUBJECTS) {
      // The ESDK takes ~10× longer per round: fewer rounds (and its warm-up is its capture run above).
      if (name === 'esdk' && (r < 0 || r >= options.esdkRounds)) continue
      const f = factories[name]
      const e = await timed(async () => {
        const sink = countingSink()
        await pipeline(repeatSource(chunk, bytes), f.encrypt(), sink)
        // The ciphertext is longer than the plaintext; MB/s counts plaintext bytes.
        return Math.min(sink.bytes, bytes)
      }, bytes)
      const d = await timed(async () => {
        const sink = countingSink()
        await pipeline(sliceSource(ciphertexts[name], chunkSize), f.decrypt(), sink)
        return sink.bytes
      }, bytes)
      if (r >= 0) {
        enc[name].push(e.wall)
        dec[name].push(d.wall)
        encCpu[name].push(e.cpu)
        decCpu[name].push(d.cpu)
      }
    }
  }
  const med = (m: Record<StreamSubject, number[]>) =>
    Object.fromEntries(STREAM_SUBJECTS.map((n) => [n, median(m[n])])) as Record<StreamSubject, number>
  return {
    bytes,
    chunkSize,
    encryptMBps: med(enc),
    decryptMBps: med(dec),
    oursVsRaw: { encrypt: pairedRatio(enc.ours, enc.raw), decrypt: pairedRatio(dec.ours, dec.raw) },
    oursVsRawCpu: {
      encrypt: pairedRatio(encCpu.ours, encCpu.raw),
      decrypt: pairedRatio(decCpu.ours, decCpu.raw),
    },
  }
}
