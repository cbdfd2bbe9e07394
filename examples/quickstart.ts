/**
 * Quick start: create a KMS key in the embedded local KMS, encrypt a JSON record with an encryption
 * context, inspect the header without any key, decrypt it, and count the KMS calls.
 *
 * Run: `npx -y pnpm@10 demo` (all examples) or `npx tsx examples/quickstart.ts`.
 */
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { EncryptionContextMismatchError, Envelope, inspect, KmsKeyring } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

export async function main(log: (line: string) => void = console.log): Promise<void> {
  // 1. An embedded KMS (in process, no port): a real KMSClient talks to it.
  const kms = await LocalKms.create()
  try {
    const client = kms.client()
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'quickstart' }))
    const keyArn = KeyMetadata!.Arn!
    log(`created KMS key ${keyArn}`)

    // 2. An envelope whose data keys come from that KMS key (cached: 5 min, 2^20 messages per key).
    const keyring = new KmsKeyring({ client, generatorKeyId: keyArn })
    const envelope = new Envelope({ keyring })
    const context = { tenant: 'acme', purpose: 'contact-pii' }

    const record = { name: 'Ana Silva', phone: '+1 555 0100', notes: 'prefers email' }
    const ciphertext = await envelope.encryptJson(record, { context })
    log(`encrypted ${JSON.stringify(record).length} bytes of JSON into ${ciphertext.length} bytes`)

    // 3. Inspect without any key: which KMS key, which context.
    const info = inspect(ciphertext)
    log(
      `header: ${info.headerLength} bytes, context ${JSON.stringify(info.context)}, wrapped by ${info.encryptedDataKeys.map((k) => k.keyId).join(', ')}`,
    )

    // 4. Decrypt, requiring the tenant.
    const back = await envelope.decryptJson<typeof record>(ciphertext, {
      expectedContext: { tenant: 'acme' },
    })
    log(`decrypted: ${back.name}, ${back.phone}`)

    // 5. The wrong tenant is refused before any KMS call.
    try {
      await envelope.decrypt(ciphertext, { expectedContext: { tenant: 'globex' } })
    } catch (err) {
      if (!(err instanceof EncryptionContextMismatchError)) throw err
      log(`wrong tenant refused: ${err.code}`)
    }

    // 6. Many messages, few KMS calls: the data key is cached.
    for (let i = 0; i < 1000; i++) await envelope.encryptJson({ i }, { context })
    const calls = keyring.stats()
    log(
      `1,001 encrypts and 2 decrypts made ${calls.generateDataKey} GenerateDataKey and ${calls.decrypt} Decrypt call(s)`,
    )
  } finally {
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
