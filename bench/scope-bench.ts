/**
 * Scope-key benchmark (issue 4): run alone with `npx tsx bench/scope-bench.ts [--quick]`, or from the main
 * bench (`benchScope({ quick })` returns markdown and the numbers).
 *
 * 1. 1 KiB encrypt/decrypt with scope keys, warm cache, as a ratio to raw AES-256-GCM (target >= 60 %).
 * 2. Message overhead of a 1 KiB message under a scope key (target <= 80 bytes).
 * 3. KMS calls for 100,000 messages across 100 scopes with hourly key windows over a simulated day, for a
 *    writer and a reader process, next to a KMS data key per scope (KmsKeyring) and no cache at all.
 *    KMS is the counting fake of bench/harness; the simulated clock drives both the hierarchy and the
 *    envelope's cache (Date.now is replaced during that part only: Envelope has no clock option).
 */
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import type { KMSClient } from '@aws-sdk/client-kms'
import { Envelope, KeyHierarchy, KmsKeyring, MemoryKeyStore } from '@kms-envelope/core'
import { BENCH_KEY_ARN, FakeKms } from './harness/fake-kms.js'
import { measure, pairedRatio } from './harness/measure.js'
import { rawDecrypt, rawEncrypt } from './subjects/raw.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Numbers of one run. */
export interface ScopeBenchResult {
  readonly markdown: string
  readonly throughput: {
    readonly rawEncrypt: number
    readonly rawDecrypt: number
    readonly scopeEncrypt: number
    readonly scopeDecrypt: number
    /** Median of per-round ratios scope/raw (robust on a shared machine). */
    readonly encryptRatio: number
    readonly decryptRatio: number
  }
  readonly overhead: { readonly noContext: number; readonly twoPairContext: number }
  readonly day: readonly DayRow[]
}

/** KMS calls of one strategy over the simulated day. */
export interface DayRow {
  readonly strategy: string
  readonly writer: { readonly generateDataKey: number; readonly decrypt: number }
  readonly reader: { readonly decrypt: number }
  readonly versions?: number
}

function client(kms: FakeKms): KMSClient {
  return kms as unknown as KMSClient
}

async function throughput(quick: boolean) {
  const kms = new FakeKms()
  const hierarchy = new KeyHierarchy({
    kms: client(kms),
    rootKeyId: BENCH_KEY_ARN,
    store: new MemoryKeyStore(),
  })
  const envelope = new Envelope({ keyring: hierarchy.keyring('customer-42') })
  const payload = randomBytes(1024)
  const rawKey = randomBytes(32)
  const ct = await envelope.encrypt(payload)
  await envelope.decrypt(ct)
  const rawCt = rawEncrypt(rawKey, payload)
  const options = quick
    ? { warmupMs: 30, rounds: 3, roundMs: 40 }
    : { warmupMs: 300, rounds: 7, roundMs: 200 }
  const [re, se, rd, sd] = await measure(
    [
      { name: 'raw encrypt', op: () => rawEncrypt(rawKey, payload) },
      { name: 'scope encrypt', op: () => envelope.encrypt(payload) },
      { name: 'raw decrypt', op: () => rawDecrypt(rawKey, rawCt) },
      { name: 'scope decrypt', op: () => envelope.decrypt(ct) },
    ],
    options,
  )
  envelope.purge()
  return {
    rawEncrypt: re!.opsPerSec,
    scopeEncrypt: se!.opsPerSec,
    rawDecrypt: rd!.opsPerSec,
    scopeDecrypt: sd!.opsPerSec,
    encryptRatio: pairedRatio(se!.rounds, re!.rounds),
    decryptRatio: pairedRatio(sd!.rounds, rd!.rounds),
  }
}

async function overhead() {
  const kms = new FakeKms()
  const hierarchy = new KeyHierarchy({
    kms: client(kms),
    rootKeyId: BENCH_KEY_ARN,
    store: new MemoryKeyStore(),
  })
  const envelope = new Envelope({ keyring: hierarchy.keyring('customer-42') })
  const payload = randomBytes(1024)
  const noContext = (await envelope.encrypt(payload)).length - payload.length
  const withContext =
    (await envelope.encrypt(payload, { context: { tenant: 'acme', purpose: 'demo' } })).length -
    payload.length
  envelope.purge()
  return { noContext, twoPairContext: withContext }
}

/** Deterministic pseudo-random numbers (the message schedule is the same on every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

type Strategy = 'scope' | 'scope-1h-cache' | 'kms-per-scope' | 'no-cache'

async function simulateDay(strategy: Strategy, messages: number, scopes: number): Promise<DayRow> {
  const start = Date.parse('2026-03-02T00:00:00Z')
  const random = rng(42)
  const schedule = Array.from({ length: messages }, () => ({
    at: start + Math.floor(random() * DAY),
    scope: `scope-${Math.floor(random() * scopes)}`,
  })).sort((a, b) => a.at - b.at)

  let simulated = start
  const realNow = Date.now
  Date.now = () => simulated
  try {
    const writerKms = new FakeKms()
    const readerKms = writerKms // one fake, counts split by snapshots below
    const store = new MemoryKeyStore()
    const clock = () => simulated
    const cache = strategy === 'no-cache' ? false : strategy === 'scope-1h-cache' ? { maxAgeMs: HOUR } : {}
    const keyring = (kms: FakeKms) =>
      strategy === 'kms-per-scope' || strategy === 'no-cache'
        ? new KmsKeyring({ client: client(kms), generatorKeyId: BENCH_KEY_ARN })
        : new KeyHierarchy({
            kms: client(kms),
            rootKeyId: BENCH_KEY_ARN,
            store,
            keyWindowMs: HOUR,
            clock,
          }).keyring({ contextKey: 'scope' })
    const writer = new Envelope({ keyring: keyring(writerKms), cache })
    const payload = randomBytes(256)
    const cts: { at: number; ct: Uint8Array }[] = []
    for (const m of schedule) {
      simulated = m.at
      cts.push({ at: m.at, ct: await writer.encrypt(payload, { context: { scope: m.scope } }) })
    }
    const writerCalls = { generateDataKey: writerKms.calls.generateDataKey, decrypt: writerKms.calls.decrypt }
    writer.purge()
    readerKms.resetCounts()
    // The reader decrypts every message a minute after it was written, in another process (own cache).
    const reader = new Envelope({ keyring: keyring(readerKms), cache })
    for (const { at, ct } of cts) {
      simulated = at + 60_000
      await reader.decrypt(ct)
    }
    reader.purge()
    let versions: number | undefined
    if (strategy.startsWith('scope')) {
      versions = 0
      for (const s of await store.listScopes()) versions += (await store.listVersions(s)).length
    }
    return {
      strategy,
      writer: writerCalls,
      reader: { decrypt: readerKms.calls.decrypt },
      ...(versions === undefined ? {} : { versions }),
    }
  } finally {
    Date.now = realNow
  }
}

const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)} %`
const k = (n: number) => `${(n / 1000).toFixed(0)}k`

/**
 * Run the scope benchmark; returns markdown (for bench/results.md) and the numbers.
 *
 * @example
 * ```ts
 * const { markdown } = await benchScope({ quick: true })
 * ```
 */
export async function benchScope(options: { quick?: boolean } = {}): Promise<ScopeBenchResult> {
  const quick = options.quick ?? false
  const t = await throughput(quick)
  const o = await overhead()
  const messages = quick ? 10_000 : 100_000
  const scopes = 100
  const day: DayRow[] = []
  for (const s of ['scope', 'scope-1h-cache', 'kms-per-scope', 'no-cache'] as const) {
    day.push(await simulateDay(s, messages, scopes))
  }
  const label: Record<string, string> = {
    scope: 'scope keys, hourly windows, default cache (5 min)',
    'scope-1h-cache': 'scope keys, hourly windows, cache maxAgeMs 1 h',
    'kms-per-scope': 'KmsKeyring, a data key per scope context, default cache',
    'no-cache': 'KmsKeyring, cache: false (a data key per message)',
  }
  const markdown = [
    '### Scope keys',
    '',
    '| 1 KiB, warm | ops/s | vs raw AES-256-GCM |',
    '| --- | ---: | ---: |',
    `| raw encrypt | ${k(t.rawEncrypt)} | 100 % |`,
    `| scope-key encrypt | ${k(t.scopeEncrypt)} | ${pct(t.encryptRatio, 1)} (target >= 60 %) |`,
    `| raw decrypt | ${k(t.rawDecrypt)} | 100 % |`,
    `| scope-key decrypt | ${k(t.scopeDecrypt)} | ${pct(t.decryptRatio, 1)} |`,
    '',
    `Overhead of a 1 KiB message under a scope key (scope id \`customer-42\`): **${o.noContext} bytes** with no context, ${o.twoPairContext} bytes with \`{tenant: acme, purpose: demo}\` (target <= 80).`,
    '',
    `KMS calls for ${messages.toLocaleString('en-US')} messages across ${scopes} scopes over a simulated day (one writer process; one reader process decrypting each message a minute later):`,
    '',
    '| strategy | writer GenerateDataKey | writer Decrypt | reader Decrypt | scope key versions |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...day.map(
      (r) =>
        `| ${label[r.strategy]} | ${r.writer.generateDataKey} | ${r.writer.decrypt} | ${r.reader.decrypt} | ${r.versions ?? '–'} |`,
    ),
    '',
  ].join('\n')
  return { markdown, throughput: t, overhead: o, day }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { markdown } = await benchScope({ quick: process.argv.includes('--quick') })
  process.stdout.write(`${markdown}\n`)
}
