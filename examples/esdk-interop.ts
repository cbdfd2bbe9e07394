/**
 * Migrating from the AWS Encryption SDK: an existing application encrypted records with the ESDK for
 * JavaScript (KMS keyring). kms-envelope reads them with the same KMS key, under its own rules (strict key
 * list, expected context before KMS, typed errors), migrates them to the kms-envelope format, and refuses a
 * wrong tenant and a tampered message. Records the ESDK wrote through its caching CMM share data keys: the
 * reader unwraps each shared key once (one KMS Decrypt for a whole batch) and shows the savings in stats().
 *
 * Run: `npx -y pnpm@10 demo` (all examples) or `npx tsx examples/esdk-interop.ts`.
 */

import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  KMS,
  KmsKeyringNode,
  NodeCachingMaterialsManager,
} from '@aws-crypto/client-node'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { Envelope, inspect, KmsEnvelopeError, KmsKeyring } from '@kms-envelope/core'
import { detectFormat, EsdkReader } from '@kms-envelope/esdk-interop'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  try {
    const client = kms.client()
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'orders (ESDK era)' }))
    const keyArn = KeyMetadata!.Arn!
    log(`KMS key ${keyArn}`)

    // 1. The existing application: ESDK for JavaScript, KMS keyring, its aggregated KMS client.
    const esdkKms = new KMS({
      region: kms.region,
      endpoint: 'http://127.0.0.1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: client.config.requestHandler, // the local KMS, in process
    })
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider: () => esdkKms })
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    const record = JSON.stringify({ order: 1042, card: '**** 4242', total: '99.90' })
    const context = { tenant: 'acme', table: 'orders' }
    const { result: signed } = await esdk.encrypt(keyring, record, { encryptionContext: context })
    const { result: big } = await esdk.encrypt(keyring, Buffer.alloc(1 << 20, 'x'), {
      encryptionContext: context,
      suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
    })
    log(
      `ESDK message: ${signed.length} bytes, starts ${signed.subarray(0, 3).toString('hex')} → ${detectFormat(signed)}`,
    )

    // 2. kms-envelope reads it with the same key: strict key list, at most 3 wrapped keys.
    const reader = new EsdkReader({ client, keyIds: [keyArn] })
    const read = await reader.decrypt(signed, { expectedContext: { tenant: 'acme' } })
    log(
      `read: ${Buffer.from(read.plaintext).toString()} (suite ${read.suite.name}, context ${JSON.stringify(read.context)}, reserved ${Object.keys(read.reservedContext).join(', ')}, ${read.kmsCalls.decrypt} KMS Decrypt)`,
    )

    // 3. Migrate: decrypt (signature verified) and re-encrypt with an Envelope, same context.
    const envelope = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: keyArn }) })
    const migrated = await reader.migrate(signed, envelope, { expectedContext: { tenant: 'acme' } })
    const info = inspect(migrated.message)
    log(
      `migrated: ${signed.length} → ${migrated.message.length} bytes (${detectFormat(migrated.message)}), context ${JSON.stringify(info.context)}, dropped ${Object.keys(migrated.droppedContext).join(', ')}`,
    )
    const back = await envelope.decryptString(migrated.message, { expectedContext: context })
    log(`kms-envelope decrypts it: ${back === record ? 'identical' : 'DIFFERENT'}`)

    // 4. Large messages stream in constant memory (non-signing suite: each frame authenticated first).
    const parts: Buffer[] = []
    await pipeline(
      Readable.from([big]),
      reader.migrateStream(envelope, { expectedContext: { tenant: 'acme' } }),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          parts.push(chunk)
          cb()
        },
      }),
    )
    const streamed = Buffer.concat(parts)
    const { plaintext } = await envelope.decrypt(streamed)
    log(
      `streamed 1 MiB: ${big.length} → ${streamed.length} bytes, ${inspect(streamed).framed ? 'framed' : 'single'}, plaintext ${plaintext.length} bytes intact`,
    )

    // 5. Failures are typed errors: a wrong tenant (before any KMS call), a tampered byte.
    for (const [what, attempt] of [
      ['wrong tenant', () => reader.decrypt(signed, { expectedContext: { tenant: 'globex' } })],
      [
        'tampered byte',
        () => {
          const bad = Buffer.from(signed)
          bad[bad.length - 200]! ^= 1
          return reader.decrypt(bad)
        },
      ],
    ] as const) {
      try {
        await attempt()
        log(`${what}: DECRYPTED (unexpected)`)
      } catch (err) {
        if (!(err instanceof KmsEnvelopeError)) throw err
        log(`${what}: ${err.name} ${err.code}`)
      }
    }

    // 6. A batch written by an ESDK app with the caching CMM (many records, one data key): a fresh reader
    //    (the cache is on by default: 100 keys, 5 minutes) unwraps the shared key once for the whole batch.
    const cachingCmm = new NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: getLocalCryptographicMaterialsCache(100),
      maxAge: 60_000,
      maxMessagesEncrypted: 1000,
    })
    const batch: Uint8Array[] = []
    for (let i = 0; i < 50; i++) {
      const { result } = await esdk.encrypt(cachingCmm, JSON.stringify({ order: 2000 + i }), {
        encryptionContext: context,
      })
      batch.push(result)
    }
    for (const [label, options] of [
      ['cached', {}],
      ['cache: false', { cache: false }],
    ] as const) {
      const batchReader = new EsdkReader({ client, keyIds: [keyArn], ...options })
      for (const m of batch) await batchReader.migrate(m, envelope, { expectedContext: { tenant: 'acme' } })
      const { dataKeys, cacheHits, kmsCalls } = batchReader.stats()
      log(
        `batch of ${batch.length} (${label}): ${dataKeys} data keys, ${kmsCalls.decrypt} KMS Decrypt, ${cacheHits} served from the cache`,
      )
    }
  } finally {
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
