/**
 * Child process of the peak-RSS benchmark: streams N bytes (generated on the fly, 64 KiB at a time) through
 * an encrypt stream and straight into a decrypt stream, discards the output, and prints one JSON line:
 * `{ mode, bytes, baselineKiB, peakKiB, maxRssKiB, seconds, core }`.
 *
 * Modes (same imports, source and sink in both, so only the pipeline differs):
 * - `ours` (default): our encryptStream → decryptStream (default frames), keyed through a fake KMS.
 * - `raw`: the floor for this process shape: one AES-256-GCM Transform per direction, the 16-byte tag
 *   appended after the ciphertext by the encryptor and held back and checked by the decryptor.
 *
 * Plain JavaScript on the built package (`pnpm bench` builds first), so the figure is the library's, not a
 * TypeScript loader's (tsx alone adds ~35 MiB). The fake KMS mirrors bench/harness/fake-kms.ts.
 *
 * `peakKiB` is this process's own high-water mark: VmHWM from /proc/self/status on Linux, else
 * process.resourceUsage().maxRSS. On Linux maxRSS alone misleads: it survives fork + exec, so it starts at
 * the RSS of the parent at fork time (the benchmark parent holds ~300 MiB of buffers). It is reported as
 * `maxRssKiB` for reference.
 *
 * `core` is where `@kms-envelope/core` resolved (a file: URL), so the parent can check it measured the build.
 *
 * Usage: node bench/rss-child.mjs <bytes> [ours|raw]
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable, Transform, Writable } from 'node:stream'
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

const TAG_BYTES = 16

/** Raw AES-256-GCM encryptor: ciphertext chunk for chunk, then the tag. */
function rawEncryptStream(key, iv) {
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  return new Transform({
    transform(chunk, _enc, done) {
      done(null, cipher.update(chunk))
    },
    flush(done) {
      const last = cipher.final()
      if (last.length) this.push(last)
      done(null, cipher.getAuthTag())
    },
  })
}

/** Raw AES-256-GCM decryptor: holds back the last 16 bytes seen, checks them as the tag at the end. */
function rawDecryptStream(key, iv) {
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  let tail = Buffer.alloc(0)
  return new Transform({
    transform(chunk, _enc, done) {
      if (tail.length + chunk.length <= TAG_BYTES) {
        tail = Buffer.concat([tail, chunk])
        return done()
      }
      if (chunk.length >= TAG_BYTES) {
        // The common case: no copy of the chunk, only of its last 16 bytes.
        if (tail.length) this.push(decipher.update(tail))
        const cut = chunk.length - TAG_BYTES
        tail = Buffer.from(chunk.subarray(cut))
        return done(null, decipher.update(chunk.subarray(0, cut)))
      }
      const joined = Buffer.concat([tail, chunk])
      const cut = joined.length - TAG_BYTES
      tail = joined.subarray(cut)
      done(null, decipher.update(joined.subarray(0, cut)))
    },
    flush(done) {
      // Precondition: the stream ended with a whole tag.
      if (tail.length !== TAG_BYTES) return done(new Error('rss-child: raw ciphertext shorter than its tag'))
      try {
        decipher.setAuthTag(tail)
        const last = decipher.final()
        done(null, last.length ? last : undefined)
      } catch (error) {
        done(error)
      }
    },
  })
}

const bytes = Number(process.argv[2] ?? 1024 ** 3)
const mode = process.argv[3] ?? 'ours'
// Precondition: a positive byte count and a known mode.
if (!Number.isSafeInteger(bytes) || bytes <= 0)
  throw new Error(`rss-child: bad byte count ${process.argv[2]}`)
if (mode !== 'ours' && mode !== 'raw') throw new Error(`rss-child: unknown mode ${mode} (ours|raw)`)

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

let encrypt
let decrypt
if (mode === 'ours') {
  const envelope = new Envelope({ keyring: new KmsKeyring({ client: fakeKms(), generatorKeyId: KEY_ARN }) })
  encrypt = envelope.encryptStream({ context })
  decrypt = envelope.decryptStream()
} else {
  const key = randomBytes(32)
  const iv = randomBytes(12)
  encrypt = rawEncryptStream(key, iv)
  decrypt = rawDecryptStream(key, iv)
}

const baselineKiB = peakRssKiB()
const start = performance.now()
await pipeline(source, encrypt, decrypt, sink)
const seconds = (performance.now() - start) / 1000
// Postcondition: every byte came back out.
if (out !== bytes) throw new Error(`rss-child: decrypted ${out} bytes, expected ${bytes}`)
const peakKiB = peakRssKiB()
const core = import.meta.resolve('@kms-envelope/core')
const maxRssKiB = process.resourceUsage().maxRSS
process.stdout.write(`${JSON.stringify({ mode, bytes, baselineKiB, peakKiB, maxRssKiB, seconds, core })}\n`)
