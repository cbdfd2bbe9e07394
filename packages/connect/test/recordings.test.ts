import { randomBytes } from 'node:crypto'
import { getDefaultHighWaterMark, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ConfigurationError,
  customerManagedKey,
  EncryptionContextMismatchError,
  InvalidKeyError,
  LimitExceededError,
  TamperedCiphertextError,
  TruncatedCiphertextError,
} from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConnectDataProtection, describeProtection, type RecordingProgress } from '../src/index.js'
import { createKey, type Fixture, fixture, kmsContexts } from './setup.js'

const FRAME = 64 * 1024

function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = []
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk)
        cb()
      },
    }),
    bytes: () => Buffer.concat(chunks),
  }
}

/** Emits `total` bytes in 10 KiB chunks from a seeded pattern, without holding them. */
function source(total: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) return this.push(null)
      const n = Math.min(10 * 1024, total - sent)
      const chunk = Buffer.alloc(n)
      for (let i = 0; i < n; i++) chunk[i] = (sent + i) % 251
      sent += n
      this.push(chunk)
    },
  })
}

describe('recordings: a KMS data key per customer account, streamed', () => {
  let f: Fixture
  beforeEach(async () => {
    f = await fixture()
  })
  afterEach(() => f.close())

  async function seal(accountId: string, contactId: string, data: Buffer, options = {}): Promise<Buffer> {
    const out = sink()
    await f.connect.sealRecording(accountId, contactId, Readable.from([data]), out.stream, {
      frameLength: FRAME,
      ...options,
    })
    return out.bytes()
  }

  it('round-trips a multi-frame recording with progress', async () => {
    const total = 1_000_000
    const progress: RecordingProgress[] = []
    const out = sink()
    const sealed = await f.connect.sealRecording('111122223333', 'contact-1', source(total), out.stream, {
      frameLength: FRAME,
      onProgress: (p) => progress.push(p),
    })
    const ct = out.bytes()
    expect(sealed).toEqual({ plaintextBytes: total, ciphertextBytes: ct.length })
    expect(ct.length).toBeGreaterThan(total)
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.plaintextBytes).toBeGreaterThanOrEqual(progress[i - 1]!.plaintextBytes)
      expect(progress[i]!.ciphertextBytes).toBeGreaterThanOrEqual(progress[i - 1]!.ciphertextBytes)
    }
    const p = describeProtection(ct)
    expect(p.framed).toBe(true)
    expect(p.dataClass).toBe('recording')
    expect(p.keys).toEqual([{ type: 'aws-kms', keyId: f.serviceKeyArn }])

    const plain = sink()
    const opened = await f.connect.openRecording(
      '111122223333',
      'contact-1',
      Readable.from([ct]),
      plain.stream,
    )
    expect(opened).toEqual({ plaintextBytes: total, ciphertextBytes: ct.length })
    const expected = Buffer.alloc(total)
    for (let i = 0; i < total; i++) expected[i] = i % 251
    expect(plain.bytes().equals(expected)).toBe(true)
  })

  it('streams: ciphertext flows out while the source is still producing (memory stays about one frame)', async () => {
    const total = 40 * FRAME
    let produced = 0
    let written = 0
    let maxLag = 0
    let largestChunk = 0
    const src = new Readable({
      read() {
        if (produced >= total) return this.push(null)
        const chunk = randomBytes(8 * 1024)
        produced += chunk.length
        this.push(chunk)
      },
    })
    const dst = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length
        maxLag = Math.max(maxLag, produced - written)
        largestChunk = Math.max(largestChunk, chunk.length)
        setImmediate(cb) // a slow consumer: back-pressure must hold the source back
      },
    })
    const result = await f.connect.sealRecording('111122223333', 'contact-1', src, dst, {
      frameLength: FRAME,
    })
    expect(result.plaintextBytes).toBe(total)
    // Bytes read from the source but not yet written out: the frame being filled and the one going out, plus
    // the streams' buffers (Node's default high-water mark: 16 KiB on Node 20, 64 KiB from Node 22), never the
    // whole recording (40 frames).
    expect(maxLag).toBeLessThan(4 * FRAME + 4 * getDefaultHighWaterMark(false))
    expect(largestChunk).toBeLessThanOrEqual(FRAME + 64)
  })
  it('binds the data key to the account inside KMS (not the contact), and accounts never share one', async () => {
    const data = randomBytes(5000)
    const a1 = await seal('111122223333', 'contact-1', data, { plaintextLength: data.length })
    const a2 = await seal('111122223333', 'contact-2', data, { plaintextLength: data.length })
    const b = await seal('444455556666', 'contact-1', data, { plaintextLength: data.length })
    // Same account, known length: the account's cached data key (one GenerateDataKey) whatever the contact;
    // other account: its own. KMS sees the account, never the contact.
    expect(kmsContexts(f, 'GenerateDataKey')).toEqual([
      { 'connect:data-class': 'recording', 'connect:account': '111122223333' },
      { 'connect:data-class': 'recording', 'connect:account': '444455556666' },
    ])
    expect(f.connect.stats().recordings.kms.generateDataKey).toBe(2)
    expect(f.connect.stats().recordings.hits).toBe(1)
    // The wrapped data key in each header: the same within the account, another one for the other account.
    const wrapped = (ct: Buffer) => {
      const header = ct.subarray(0, describeProtection(ct).headerLength)
      return header.subarray(header.indexOf(Buffer.from(f.serviceKeyArn)), header.length - 12)
    }
    expect(wrapped(a1).equals(wrapped(a2))).toBe(true)
    expect(wrapped(a1).equals(wrapped(b))).toBe(false)
    expect(describeProtection(b).context['connect:account']).toBe('444455556666')
    expect(describeProtection(a1).context).toEqual({
      'connect:data-class': 'recording',
      'connect:account': '111122223333',
      'connect:contact': 'contact-1',
    })
    expect(describeProtection(a2).context['connect:contact']).toBe('contact-2')
  })

  it('N recordings of N contacts of one account: 1 GenerateDataKey; reading all with a cold cache: 1 Decrypt', async () => {
    const n = 40
    const recordings: { contact: string; data: Buffer; ct: Buffer }[] = []
    for (let i = 0; i < n; i++) {
      const data = randomBytes(2 * FRAME + i)
      const contact = `contact-${i}`
      recordings.push({
        contact,
        data,
        ct: await seal('111122223333', contact, data, { plaintextLength: data.length }),
      })
    }
    expect(f.calls('GenerateDataKey')).toBe(1)
    f.connect.purge()
    for (const { contact, data, ct } of recordings) {
      const out = sink()
      await f.connect.openRecording('111122223333', contact, Readable.from([ct]), out.stream)
      expect(out.bytes().equals(data), contact).toBe(true)
    }
    expect(f.calls('Decrypt')).toBe(1)
    expect(kmsContexts(f, 'Decrypt')).toEqual([
      { 'connect:data-class': 'recording', 'connect:account': '111122223333' },
    ])
  })

  it('two recordings swapped between contacts → EncryptionContextMismatchError, no KMS call, no plaintext', async () => {
    const forA = randomBytes(3 * FRAME)
    const forB = randomBytes(3 * FRAME)
    // Same account and known length: both share one data key, so only the contact pair tells them apart.
    const a = await seal('111122223333', 'contact-a', forA, { plaintextLength: forA.length })
    const b = await seal('111122223333', 'contact-b', forB, { plaintextLength: forB.length })
    // Storage swapped: contact-a's object now holds b's recording and the other way round.
    const stored = { 'contact-a': b, 'contact-b': a }
    for (const [contact, ct] of Object.entries(stored)) {
      for (const cache of ['cold', 'warm'] as const) {
        if (cache === 'cold') f.connect.purge()
        const before = f.calls()
        const out = sink()
        const err = await f.connect
          .openRecording('111122223333', contact, Readable.from([ct]), out.stream)
          .catch((e: unknown) => e)
        expect(err, `${contact} (${cache} cache)`).toBeInstanceOf(EncryptionContextMismatchError)
        expect(err).toMatchObject({ code: 'ERR_CONTEXT_MISMATCH', key: 'connect:contact' })
        expect(out.bytes().length).toBe(0)
        expect(f.calls()).toBe(before)
      }
    }
    // The raw Transform refuses it as well.
    const raw = sink()
    await expect(
      pipeline(Readable.from([b]), f.connect.decryptRecording('111122223333', 'contact-a'), raw.stream),
    ).rejects.toBeInstanceOf(EncryptionContextMismatchError)
    expect(raw.bytes().length).toBe(0)
    // Read with the right contact, each opens.
    const outA = sink()
    await f.connect.openRecording('111122223333', 'contact-a', Readable.from([a]), outA.stream)
    expect(outA.bytes().equals(forA)).toBe(true)
    const outB = sink()
    await f.connect.openRecording('111122223333', 'contact-b', Readable.from([b]), outB.stream)
    expect(outB.bytes().equals(forB)).toBe(true)
  })

  it('a header edited to name another contact fails authentication (TamperedCiphertextError), no plaintext', async () => {
    const data = randomBytes(3 * FRAME)
    const ct = await seal('111122223333', 'contact-a', data, { plaintextLength: data.length })
    const headerLength = describeProtection(ct).headerLength
    const at = ct.subarray(0, headerLength).indexOf(Buffer.from('contact-a'))
    expect(at).toBeGreaterThan(0)
    const edited = Buffer.from(ct)
    edited.write('contact-b', at, 'utf8')
    expect(describeProtection(edited).context['connect:contact']).toBe('contact-b')
    for (const cache of ['warm', 'cold'] as const) {
      if (cache === 'cold') f.connect.purge()
      const out = sink()
      const err = await f.connect
        .openRecording('111122223333', 'contact-b', Readable.from([edited]), out.stream)
        .catch((e: unknown) => e)
      expect(err, cache).toBeInstanceOf(TamperedCiphertextError)
      expect(out.bytes().length).toBe(0)
    }
  })

  it('KMS itself binds the account: a header edited to name another account is refused inside KMS', async () => {
    const data = randomBytes(2 * FRAME)
    const ct = await seal('111122223333', 'contact-1', data, { plaintextLength: data.length })
    const header = ct.subarray(0, describeProtection(ct).headerLength)
    // The account value of the context pair (the key ARN in the header names the same account: leave it).
    const at = header.indexOf(Buffer.from('111122223333'), header.indexOf(Buffer.from('connect:account')))
    expect(at).toBeGreaterThan(0)
    const edited = Buffer.from(ct)
    edited.write('444455556666', at, 'utf8')
    expect(describeProtection(edited).context['connect:account']).toBe('444455556666')
    f.connect.purge()
    const out = sink()
    const err = await f.connect
      .openRecording('444455556666', 'contact-1', Readable.from([edited]), out.stream)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect(out.bytes().length).toBe(0)
    // KMS was asked to unwrap account 1111's data key for account 4444, and refused it.
    const refused = f.kms.engine.auditLog().filter((e) => e.eventName === 'Decrypt')
    expect(refused.length).toBe(1)
    expect(refused[0]!.errorCode).toBe('InvalidCiphertextException')
    expect(refused[0]!.requestParameters.encryptionContext).toEqual({
      'connect:data-class': 'recording',
      'connect:account': '444455556666',
    })
  })

  it('a recording longer than its declared plaintextLength → LimitExceededError (the shared key counted only that many bytes)', async () => {
    const data = randomBytes(3 * FRAME)
    const err = await seal('111122223333', 'contact-1', data, { plaintextLength: 2 * FRAME }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(LimitExceededError)
    expect((err as LimitExceededError).remedy).toMatch(/plaintextLength/)
  })

  it('gives a live recording (unknown length) a data key of its own, still bound to the account', async () => {
    await seal('111122223333', 'contact-1', randomBytes(100))
    await seal('111122223333', 'contact-1', randomBytes(100))
    expect(f.calls('GenerateDataKey')).toBe(2)
    for (const c of kmsContexts(f, 'GenerateDataKey')) {
      expect(c).toEqual({ 'connect:data-class': 'recording', 'connect:account': '111122223333' })
    }
  })

  it("refuses another account's recording before any KMS call and before any output", async () => {
    const ct = await seal('111122223333', 'contact-1', randomBytes(3 * FRAME))
    f.connect.purge()
    const before = f.calls()
    const out = sink()
    const err = await f.connect
      .openRecording('444455556666', 'contact-1', Readable.from([ct]), out.stream)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EncryptionContextMismatchError)
    expect(err).toMatchObject({ key: 'connect:account' })
    expect(out.bytes().length).toBe(0)
    expect(f.calls()).toBe(before)
  })

  it('refuses an invalid contact id before anything else', async () => {
    const before = f.calls()
    expect(() => f.connect.encryptRecording('111122223333', '')).toThrow(ConfigurationError)
    expect(() => f.connect.decryptRecording('111122223333', 'a\nb')).toThrow(ConfigurationError)
    expect(() => f.connect.decryptRecording('111122223333', undefined as unknown as string)).toThrow(
      ConfigurationError,
    )
    expect(f.calls()).toBe(before)
  })

  it('a modified recording fails with TamperedCiphertextError and releases no plaintext', async () => {
    const data = randomBytes(3 * FRAME)
    const ct = await seal('111122223333', 'contact-1', data)
    const bad = Buffer.from(ct)
    bad[describeProtection(ct).headerLength + 50]! ^= 0x80 // inside the first frame
    const out = sink()
    const err = await f.connect
      .openRecording('111122223333', 'contact-1', Readable.from([bad]), out.stream)
      .catch((e) => e)
    expect(err).toBeInstanceOf(TamperedCiphertextError)
    expect(out.bytes().length).toBe(0)
  })

  it('a truncated recording fails with TruncatedCiphertextError', async () => {
    const data = randomBytes(3 * FRAME)
    const ct = await seal('111122223333', 'contact-1', data)
    for (const cut of [ct.length - 1, ct.length - 40, Math.floor(ct.length / 2), 30]) {
      const out = sink()
      const err = await f.connect
        .openRecording('111122223333', 'contact-1', Readable.from([ct.subarray(0, cut)]), out.stream)
        .catch((e: unknown) => e)
      expect(err, `cut at ${cut}`).toBeInstanceOf(TruncatedCiphertextError)
      // Whatever was released is an authenticated prefix (frames are released after authentication); the
      // error says the recording is incomplete, so the caller discards the output.
      expect(data.subarray(0, out.bytes().length).equals(out.bytes())).toBe(true)
    }
  })

  it('the raw Transform streams work in a pipeline and report progress', async () => {
    const enc = f.connect.encryptRecording('111122223333', 'contact-1', { frameLength: FRAME })
    const out = sink()
    await pipeline(source(200_000), enc, out.stream)
    expect(enc.plaintextBytes).toBe(200_000)
    const plain = sink()
    await pipeline(
      Readable.from([out.bytes()]),
      f.connect.decryptRecording('111122223333', 'contact-1'),
      plain.stream,
    )
    expect(plain.bytes().length).toBe(200_000)
  })

  it("can use a customer managed recording key (the customer's bucket key)", async () => {
    const cmk = await createKey(f.client, { Description: 'customer recording key' })
    const connect = await ConnectDataProtection.create({
      kms: f.client,
      serviceKeyArn: f.serviceKeyArn,
      store: f.store,
      recordingKey: customerManagedKey(cmk),
    })
    expect(connect.keys.recordingKey).toMatchObject({ arn: cmk, kind: 'customer-managed' })
    const out = sink()
    await connect.sealRecording(
      '111122223333',
      'contact-1',
      Readable.from([Buffer.from('hello')]),
      out.stream,
    )
    expect(describeProtection(out.bytes()).keys).toEqual([{ type: 'aws-kms', keyId: cmk }])
    const plain = sink()
    await connect.openRecording('111122223333', 'contact-1', Readable.from([out.bytes()]), plain.stream)
    expect(plain.bytes().toString()).toBe('hello')
    // A protector configured with the service key only does not send another key's data key to KMS.
    const err = await f.connect
      .openRecording('111122223333', 'contact-1', Readable.from([out.bytes()]), sink().stream)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('NOT_ALLOWED')
    // After the switch, recordings made under the service key stay readable.
    const old = await seal('111122223333', 'contact-1', Buffer.from('before the switch'))
    const before = sink()
    await connect.openRecording('111122223333', 'contact-1', Readable.from([old]), before.stream)
    expect(before.bytes().toString()).toBe('before the switch')
    // Voiceprints stay under the service-owned key whatever the recording key.
    const vp = await connect.encryptVoiceprint('domain-1', 'speaker-7', randomBytes(32))
    expect(describeProtection(vp).keys).toEqual([{ type: 'aws-kms', keyId: f.serviceKeyArn }])
  })
})
