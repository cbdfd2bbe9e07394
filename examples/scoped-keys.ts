/**
 * Scoped keys, Amazon Connect style: contact PII of each Connect instance under that instance's own,
 * hourly, KMS-generated scope key kept wrapped in a file key store. Rotate one instance's key, offboard
 * (crypto-shred) another, show the error its old data now gives, and read the audit trail.
 *
 * Run: `npx tsx examples/scoped-keys.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { Envelope, FileKeyStore, inspect, KeyDestroyedError, KeyHierarchy } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  const directory = mkdtempSync(join(tmpdir(), 'scoped-keys-'))
  try {
    // 1. The service's root key (service-owned; a customer managed key works the same way).
    const client = kms.client()
    const { KeyMetadata } = await client.send(
      new CreateKeyCommand({ Description: 'connect service root key' }),
    )
    const rootKeyId = KeyMetadata!.Arn!

    // 2. A key hierarchy: one scope per Connect instance, a new key version every hour.
    const hierarchy = new KeyHierarchy({
      kms: client,
      rootKeyId,
      store: new FileKeyStore({ directory }),
      keyWindowMs: 3_600_000,
      context: { service: 'connect' },
      actor: 'connect-service',
    })
    // One envelope for all instances: the scope is the `instance` value of each message's context.
    const envelope = new Envelope({
      keyring: hierarchy.keyring({ contextKey: 'instance' }),
      cache: { maxAgeMs: 3_600_000 },
    })

    const contact = {
      caller: '+1 555 0100',
      name: 'Ana Silva',
      transcript: 'I would like to change my address…',
    }
    const acme = { instance: 'i-acme' }
    const globex = { instance: 'i-globex' }
    const acmeRecord = await envelope.encryptJson(contact, { context: acme })
    const globexRecord = await envelope.encryptJson({ ...contact, name: 'Bo Chen' }, { context: globex })
    const info = inspect(acmeRecord)
    log(
      `encrypted contact PII for 2 instances; the message references scope ${info.encryptedDataKeys[0]!.keyId} (a ${info.encryptedDataKeys[0]!.blobLength}-byte version number, no KMS blob): ${acmeRecord.length - JSON.stringify(contact).length} bytes of overhead`,
    )
    for (let i = 0; i < 500; i++) await envelope.encryptJson({ i }, { context: i % 2 ? acme : globex })
    log(
      `502 encrypts used ${(await hierarchy.listVersions('i-acme')).length + (await hierarchy.listVersions('i-globex')).length} scope keys (one KMS GenerateDataKey each)`,
    )

    // 3. Rotate acme's key (e.g. after an incident): new data under version 2, old data still decrypts.
    const rotated = await hierarchy.rotate('i-acme', { actor: 'security-team' })
    envelope.purge() // this process switches at once (others at their cache TTL or window end)
    const afterRotation = await envelope.encryptJson(contact, { context: acme })
    const oldName = (await envelope.decryptJson<typeof contact>(acmeRecord, { expectedContext: acme })).name
    log(
      `rotated i-acme to version ${rotated.version} (new records use it); the old record still reads: ${oldName}`,
    )
    for (const v of await hierarchy.listVersions('i-acme')) {
      log(
        `  i-acme v${v.version}: ${v.state}, created ${new Date(v.createdAt).toISOString()} by ${v.createdBy}, wrapped by ${v.wrappingKeyId.split('/')[1]}`,
      )
    }

    // 4. The globex instance is deleted: forget it (crypto-shredding).
    const destroyed = await hierarchy.destroyScope('i-globex', {
      reason: 'instance deleted',
      actor: 'offboarding-job',
    })
    envelope.purge() // drop cached keys now (other processes: purge too, or wait for their cache TTL)
    log(`destroyed i-globex (versions ${destroyed.join(', ')})`)
    try {
      await envelope.decryptJson(globexRecord, { expectedContext: globex })
      throw new Error('the shredded record still decrypted')
    } catch (err) {
      if (!(err instanceof KeyDestroyedError)) throw err
      log(`reading an i-globex record now fails: ${err.code}: ${err.message}`)
    }
    log(
      `i-acme is unaffected: ${(await envelope.decryptJson<typeof contact>(afterRotation, { expectedContext: acme })).name}`,
    )

    // 5. Every administrative action is in the audit trail (kept in the key store).
    for (const e of await hierarchy.audit()) {
      if (e.action !== 'create-version') {
        log(
          `  audit: ${new Date(e.at).toISOString()} ${e.actor} ${e.action} ${e.scopeId}${e.version ? ` v${e.version}` : ''}${e.detail ? ` (${e.detail})` : ''}`,
        )
      }
    }
  } finally {
    await kms.close()
    rmSync(directory, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) await main()
