// Stream life cycle and cost: a stream destroyed while its key is still being fetched (a KMS call in flight)
// must wipe that key when it arrives and never use it; a header trickling in byte by byte costs linear work.
import { setImmediate as tick } from 'node:timers/promises'
import {
  DecryptStream,
  EncryptStream,
  Envelope,
  type Keyring,
  MalformedCiphertextError,
  WrappingType,
} from '@kms-envelope/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { TestKeyring } from '../helpers/test-keyring.js'

const wiped = (b: Uint8Array) => b.every((x) => x === 0)

describe('a stream destroyed while its key is being fetched', () => {
  it('DecryptStream wipes the message key that arrives after destroy() and releases nothing', async () => {
    const message = await new Envelope({ keyring: new TestKeyring() }).encrypt('hello')
    let deliver!: (key: Buffer) => void
    const key = Buffer.alloc(32, 7)
    const stream = new DecryptStream(() => new Promise<Buffer>((resolve) => (deliver = resolve)), 1024)
    const out: Buffer[] = []
    stream.on('data', (b: Buffer) => out.push(b))
    stream.on('error', () => {})
    stream.write(message)
    await tick()
    stream.destroy()
    deliver(key)
    await tick()
    await tick()
    expect(wiped(key)).toBe(true)
    expect(out).toEqual([])
  })

  it('EncryptStream wipes the message key that arrives after destroy() and writes nothing', async () => {
    let deliver!: (k: { header: Buffer; nonce: Buffer; messageKey: Buffer }) => void
    const messageKey = Buffer.alloc(32, 7)
    const stream = new EncryptStream(16, () => new Promise((resolve) => (deliver = resolve)))
    const out: Buffer[] = []
    stream.on('data', (b: Buffer) => out.push(b))
    stream.on('error', () => {})
    stream.write(Buffer.alloc(40, 1))
    await tick()
    stream.destroy()
    deliver({ header: Buffer.alloc(8), nonce: Buffer.alloc(12), messageKey })
    await tick()
    await tick()
    expect(wiped(messageKey)).toBe(true)
    expect(out).toEqual([])
  })
})

describe('a header arriving in tiny pieces', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** A message with a near-maximal header (about 100 KiB: 64 context pairs, 16 wrapped keys). */
  async function bigHeaderMessage(): Promise<{ envelope: Envelope; message: Uint8Array }> {
    const dataKey = Buffer.alloc(32, 3)
    const edks = Array.from({ length: 16 }, (_, i) => ({
      type: WrappingType.AwsKms,
      keyId: `${'k'.repeat(2040)}${i}`,
      blob: Buffer.alloc(4000, i),
    }))
    const keyring: Keyring = {
      partition: 'big-header',
      generateDataKey: async () => ({ plaintextKey: Buffer.from(dataKey), encryptedDataKeys: edks }),
      decryptDataKey: async () => ({ plaintextKey: Buffer.from(dataKey), encryptedDataKey: edks[0]! }),
    }
    const context: Record<string, string> = {}
    for (let i = 0; i < 64; i++) context[`key-${String(i).padStart(2, '0')}`] = 'v'.repeat(120)
    const envelope = new Envelope({ keyring })
    return { envelope, message: await envelope.encrypt('payload', { context }) }
  }

  it('is buffered and parsed in linear work, not re-copied and re-parsed for every byte', async () => {
    const { envelope, message } = await bigHeaderMessage()
    expect(message.length).toBeGreaterThan(90_000)
    const concat = vi.spyOn(Buffer, 'concat')
    const stream = envelope.decryptStream()
    const out: Buffer[] = []
    stream.on('data', (b: Buffer) => out.push(b))
    const done = new Promise((resolve, reject) => {
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    for (let i = 0; i < message.length; i++) stream.write(message.subarray(i, i + 1))
    stream.end()
    await done
    expect(Buffer.concat(out).toString()).toBe('payload')
    // Bytes copied while assembling the header: a few hundred passes at most (one per header field), where
    // re-assembling on every byte copies about n^2 / 2 (5 * 10^9 bytes here, seconds of CPU per message).
    const copied = concat.mock.results.reduce((sum, r) => sum + (r.value as Buffer).length, 0)
    expect(copied).toBeLessThan(1000 * message.length)
  })

  it('a field length beyond the header limit is refused at once, not buffered up to it', async () => {
    // Version 1, suite 2, single, 1 pair, key length 2^28 - 1: no header can hold that key.
    const start = Buffer.from([1, 2, 1, 1, 0xff, 0xff, 0xff, 0x7f])
    const { envelope } = await bigHeaderMessage()
    const stream = envelope.decryptStream()
    const failed = new Promise((resolve) => stream.on('error', resolve))
    stream.write(start)
    expect(await failed).toBeInstanceOf(MalformedCiphertextError)
  })
})
