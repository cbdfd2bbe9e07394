// Stream life cycle: a stream destroyed while its key is still being fetched (a KMS call in flight) must wipe
// that key when it arrives and never use it.
import { setImmediate as tick } from 'node:timers/promises'
import { DecryptStream, EncryptStream, Envelope } from '@kms-envelope/core'
import { describe, expect, it } from 'vitest'
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
