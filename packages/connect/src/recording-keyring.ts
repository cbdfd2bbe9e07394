/**
 * The keyring of recordings: a `KmsKeyring` that sends KMS only the account part of a recording's context
 * (data class and customer account) and tells core's envelope so (`Keyring.dataKeyScope`). The contact pair
 * stays in every recording's authenticated header, but no longer splits the account's data key: one
 * GenerateDataKey per account (per cache lifetime) whatever the number of contacts, as for contact PII with
 * its scope keyring.
 */
import {
  ConfigurationError,
  type DecryptedDataKey,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type Keyring,
  type KmsKeyring,
} from '@kms-envelope/core'
import { ACCOUNT_KEY, DATA_CLASS_KEY, recordingKmsContext } from './binding.js'

/** @internal A recording's context reduced to what KMS binds: data class and account. */
function kmsPart(context: EncryptionContext): EncryptionContext {
  // Precondition: a recording context (the envelope checked the expected context before calling here).
  if (context[DATA_CLASS_KEY] !== 'recording' || context[ACCOUNT_KEY] === undefined) {
    throw new ConfigurationError(
      `The recording keyring got a context without "${DATA_CLASS_KEY}": "recording" and "${ACCOUNT_KEY}".`,
      'Encrypt and decrypt recordings with recordingContext(accountId, contactId).',
    )
  }
  return recordingKmsContext(context[ACCOUNT_KEY])
}

/**
 * @internal Wraps the recording `KmsKeyring`: its data keys depend only on `{ data-class, account }`, which
 * is all KMS sees, so the envelope may cache one per account and authenticate the other pairs (the
 * contact) per message.
 */
export class RecordingKeyring implements Keyring {
  readonly partition: string
  readonly #kms: KmsKeyring

  constructor(kms: KmsKeyring) {
    this.#kms = kms
    this.partition = `connect-recording:${kms.partition}`
  }

  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    return this.#kms.generateDataKey(kmsPart(context))
  }

  decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    return this.#kms.decryptDataKey(encryptedDataKeys, kmsPart(context))
  }

  /** Exactly the pairs sent to KMS (a JSON array, so no two accounts can collide). */
  dataKeyScope(context: EncryptionContext): string {
    const kms = kmsPart(context)
    return JSON.stringify([kms[DATA_CLASS_KEY], kms[ACCOUNT_KEY]])
  }
}
