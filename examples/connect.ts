/**
 * Amazon Connect's encryption at rest: contact PII under a time-limited key per instance, recordings under
 * a KMS data key per customer account (each bound to its contact), voiceprints under the service-owned key, integration configuration
 * under a time-limited key per user account. Prints which key protects each data class, the KMS calls it
 * took, and the typed errors of a few failure cases.
 *
 * Run: `npx tsx examples/connect.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import { randomBytes } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms'
import { ConnectDataProtection, describeProtection, type Protection } from '@kms-envelope/connect'
import { KmsEnvelopeError, MemoryKeyStore } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

function keyOf(p: Protection): string {
  return p.keys
    .map((k) =>
      k.type === 'scope-key' ? `scope key ${k.scope} v${k.version}` : `KMS data key under ${k.keyId}`,
    )
    .join(', ')
}

function collect(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  return { stream, bytes: () => Buffer.concat(chunks) }
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  try {
    const client = kms.client()
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({ Description: 'connect service-owned key' }),
    )
    const serviceKeyArn = KeyMetadata!.Arn!
    const clock = { now: Date.now() } // simulated time, to show the key windows
    const kmsCalls = () => {
      const counts: Record<string, number> = {}
      for (const e of kms.engine.auditLog())
        if (e.eventName !== 'CreateKey') counts[e.eventName] = (counts[e.eventName] ?? 0) + 1
      return JSON.stringify(counts)
    }

    const connect = await ConnectDataProtection.create({
      kms: client,
      serviceKeyArn,
      store: new MemoryKeyStore(), // FileKeyStore or DynamoDbKeyStore in production
      actor: 'connect-service',
      clock: () => clock.now,
    })
    log(
      `service-owned key validated (DescribeKey): ${connect.keys.serviceKey.arn} (${connect.keys.serviceKey.kind})`,
    )

    // 1. Contact PII: the instance's scope key, a new version every hour; the contact is in the context.
    const contact = { caller: '+1 555 0100', name: 'Ana Silva', transcript: 'please change my address' }
    const acme = await connect.encryptContactPii('i-acme', 'contact-1', contact)
    for (let i = 2; i <= 100; i++)
      await connect.encryptContactPii('i-acme', `contact-${i}`, { ...contact, i })
    const globex = await connect.encryptContactPii('i-globex', 'contact-1', contact)
    log(`contact PII  i-acme   → ${keyOf(describeProtection(acme))} (100 contacts)`)
    log(`contact PII  i-globex → ${keyOf(describeProtection(globex))}`)
    log(`  context of contact-1's record: ${JSON.stringify(describeProtection(acme).context)}`)
    log(`  KMS calls so far: ${kmsCalls()} (one per instance key, not per contact)`)
    clock.now += 3_600_000
    const later = await connect.encryptContactPii('i-acme', 'contact-101', contact)
    log(
      `  one hour later i-acme → ${keyOf(describeProtection(later))}; the first record still reads: ${
        (await connect.decryptContactPii<typeof contact>('i-acme', 'contact-1', acme)).name
      }`,
    )

    // 2. Recordings: streamed (framed, constant memory), a KMS data key bound to the customer account, each
    //    recording bound to its contact in its authenticated header.
    const audio = randomBytes(2 * 1024 * 1024)
    const sealed = collect()
    let updates = 0
    const generated = () => connect.stats().recordings.kms.generateDataKey
    const progress = await connect.sealRecording(
      '111122223333',
      'contact-1',
      Readable.from([audio]),
      sealed.stream,
      { plaintextLength: audio.length, onProgress: () => updates++ },
    )
    const recording = sealed.bytes()
    const r = describeProtection(recording)
    log(`recording    account 111122223333 → ${keyOf(r)}, context ${JSON.stringify(r.context)}`)
    log(
      `  ${progress.plaintextBytes} bytes → ${progress.ciphertextBytes} bytes in ${updates} progress updates`,
    )
    const recordings = [recording]
    for (let i = 2; i <= 20; i++) {
      const call = randomBytes(64 * 1024)
      const out = collect()
      await connect.sealRecording('111122223333', `contact-${i}`, Readable.from([call]), out.stream, {
        plaintextLength: call.length,
      })
      recordings.push(out.bytes())
    }
    log(
      `  20 recordings of 20 contacts: ${generated()} GenerateDataKey (the account's data key; KMS sees no contact)`,
    )
    const opened = collect()
    await connect.openRecording('111122223333', 'contact-1', Readable.from([recording]), opened.stream)
    log(`  contact-1's recording decrypted back: ${opened.bytes().equals(audio) ? 'identical' : 'DIFFERENT'}`)

    // 3. Voiceprints: under the service-owned key, bound to the Voice ID domain and speaker.
    const voiceprint = await connect.encryptVoiceprint('voice-domain-1', 'speaker-7', randomBytes(1024))
    log(`voiceprint   speaker-7 → ${keyOf(describeProtection(voiceprint))}`)

    // 4. Integration configuration: the user account's scope key, a new version every day.
    const config = await connect.encryptIntegrationConfig('111122223333', 'salesforce', {
      clientSecret: 's3cr3t',
    })
    log(`integration  account 111122223333 / salesforce → ${keyOf(describeProtection(config))}`)
    log(`KMS calls in total: ${kmsCalls()}`)

    // Failure cases: each a typed error with a stable code, and the KMS calls made before it (cold cache).
    connect.purge()
    const fail = async (what: string, action: () => Promise<unknown>) => {
      const before = kms.engine.auditLog().length
      try {
        await action()
        throw new Error(`${what}: no error`)
      } catch (err) {
        if (!(err instanceof KmsEnvelopeError)) throw err
        const calls = kms.engine.auditLog().length - before
        log(`✗ ${what}: ${err.name} ${err.code} (${calls} KMS call${calls === 1 ? '' : 's'})`)
      }
    }
    await fail("i-acme's record read as i-globex's", () =>
      connect.decryptContactPii('i-globex', 'contact-1', acme),
    )
    await fail("contact-1's record read as contact-2's", () =>
      connect.decryptContactPii('i-acme', 'contact-2', acme),
    )
    await fail("contact-2's recording swapped into contact-1's object", () =>
      connect.openRecording('111122223333', 'contact-1', Readable.from([recordings[1]!]), collect().stream),
    )
    const tampered = Buffer.from(recording)
    tampered[r.headerLength + 100]! ^= 1
    await fail('a tampered recording', () =>
      connect.openRecording('111122223333', 'contact-1', Readable.from([tampered]), collect().stream),
    )
    // Time-limited keys: keep each instance's PII keys 12 hours after their window ended.
    clock.now += 24 * 3_600_000
    const expired = await connect.piiKeys.destroyOlderThan('connect-pii/i-acme', 12 * 3_600_000)
    log(`retention 12 h on i-acme, one day later: key versions ${expired.join(', ')} destroyed`)
    await fail("contact-1's record after its key's retention", () =>
      connect.decryptContactPii('i-acme', 'contact-1', acme),
    )
    await client.send(new DisableKeyCommand({ KeyId: serviceKeyArn }))
    connect.purge()
    await fail('voiceprint with the service key disabled', () =>
      connect.decryptVoiceprint('voice-domain-1', 'speaker-7', voiceprint),
    )
  } finally {
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
