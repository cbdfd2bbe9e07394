/**
 * Child process of the peak-RSS benchmark: streams N bytes (generated on the fly, 64 KiB at a time) through
 * our encryptStream and straight into our decryptStream, discards the output, and prints one JSON line:
 * `{ bytes, baselineKiB, peakKiB, maxRssKiB, seconds }`.
 *
 * Plain JavaScript on the built package (`pnpm bench` builds first), so the figure is the library's, not a
 * TypeScript loader's (tsx alone adds ~35 MiB). The fake KMS mirrors bench/harness/fake-kms.ts.
 *
 * `peakKiB` is this process's own high-water mark: VmHWM from /proc/self/status on Linux, else
 * process.resourceUsage().maxRSS. On Linux maxRSS alone misleads: it survives fork + exec, so it starts at
 * the RSS of the parent at fork time (the benchmark parent holds ~300 MiB of buffers). It is reported as
 * `maxRssKiB` for reference.
 *
 * Usage: node bench/rss-child.mjs <bytes>
 */
import { randomBytes, randomFillSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DecryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms'
import { Envelope, KmsKeyring } from '@kms-envelope/core'

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

/** This process's peak RSS in KiB. */
function peakRssKiB() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (hwm?.[1]) return Number(hwm[1])
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS
}

/** Minimal fake KMS client: GenerateDataKey and Decrypt of what it generated. */
function fakeKms() {
  const keys = new Map()
  return {
    config: {},
    async send(command) {
      if (command instanceof GenerateDataKeyCommand) {
        const plaintext = randomBytes(32)
        const blob = randomBytes(184)
        keys.set(blob.toString('base64'), plaintext)
        return { KeyId: KEY_ARN, CiphertextBlob: blob, Plaintext: new Uint8Array(plaintext) }
      }
      if (command instanceof DecryptCommand) {
        const plaintext = keys.get(Buffer.from(command.input.CiphertextBlob).toString('base64'))
        if (!plaintext) throw new Error('fake KMS: unknown blob')
        return {
          KeyId: KEY_ARN,
          CiphertextBlob: command.input.CiphertextBlob,
          Plaintext: new Uint8Array(plaintext),
        }
      }
      throw new Error(`fake KMS: unsupported ${command?.constructor?.name}`)
    },
  }
}

const bytes = Number(process.argv[2] ?? 1024 ** 3)
// Precondition: a positive byte count.
if (!Number.isSafeInteger(bytes) || bytes <= 0)
  throw new Error(`rss-child: bad byte count ${process.argv[2]}`)

const envelope = new Envelope({ keyring: new KmsKeyring({ client: fakeKms(), generatorKeyId: KEY_ARN }) })
const context = { tenant: 'acme', purpose: 'demo' }
const chunk = randomFillSync(Buffer.alloc(64 * 1024))
let left = bytes
const source = new Readable({
  highWaterMark: chunk.length,
  read() {
    if (left <= 0) return void this.push(null)
    const n = Math.min(left, chunk.length)
    left -= n
    this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
  },
})
let out = 0
const sink = new Writable({
  write(c, _enc, done) {
    out += c.length
    done()
  },
})

const baselineKiB = peakRssKiB()
const start = performance.now()
await pipeline(source, envelope.encryptStream({ context }), envelope.decryptStream(), sink)
const seconds = (performance.now() - start) / 1000
// Postcondition: every byte came back out.
if (out !== bytes) throw new Error(`rss-child: decrypted ${out} bytes, expected ${bytes}`)
const peakKiB = peakRssKiB()
process.stdout.write(
  `${JSON.stringify({ bytes, baselineKiB, peakKiB, maxRssKiB: process.resourceUsage().maxRSS, seconds })}\n`,
)
