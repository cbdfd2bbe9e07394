// Test-only keyring: wraps data keys with AES-256-GCM under a local key, binding the context as AAD, so the
// envelope can be tested without KMS. Counts calls. Never used by production code.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import {
  type DecryptedDataKey,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type Keyring,
  TamperedCiphertextError,
  WrappingType,
} from '@kms-envelope/core'

export const TEST_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555'

function aad(context: EncryptionContext): Buffer {
  return Buffer.from(JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : 1))))
}

export class TestKeyring implements Keyring {
  readonly partition: string
  generateCalls = 0
  decryptCalls = 0
  readonly #wrappingKey: Buffer

  constructor(
    readonly keyId = TEST_KEY_ARN,
    wrappingKey: Buffer = randomBytes(32),
    readonly fixedDataKey?: Buffer,
  ) {
    this.#wrappingKey = wrappingKey
    this.partition = `test:${keyId}`
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    this.generateCalls++
    const dataKey = this.fixedDataKey ? Buffer.from(this.fixedDataKey) : randomBytes(32)
    return { plaintextKey: dataKey, encryptedDataKeys: [this.wrap(dataKey, context)] }
  }

  wrap(dataKey: Uint8Array, context: EncryptionContext): EncryptedDataKey {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.#wrappingKey, iv)
    c.setAAD(aad(context))
    const blob = Buffer.concat([iv, c.update(dataKey), c.final(), c.getAuthTag()])
    return { type: WrappingType.AwsKms, keyId: this.keyId, blob }
  }

  async decryptDataKey(
    edks: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    this.decryptCalls++
    for (const edk of edks) {
      if (edk.keyId !== this.keyId || edk.blob.length !== 60) continue
      const d = createDecipheriv('aes-256-gcm', this.#wrappingKey, edk.blob.subarray(0, 12))
      d.setAAD(aad(context))
      d.setAuthTag(edk.blob.subarray(44))
      try {
        const key = Buffer.concat([d.update(edk.blob.subarray(12, 44)), d.final()])
        return { plaintextKey: key, encryptedDataKey: edk }
      } catch (cause) {
        throw new TamperedCiphertextError('The wrapped data key does not decrypt under the test key.', {
          cause,
        })
      }
    }
    throw new TamperedCiphertextError('No wrapped data key for the test key.')
  }
}
