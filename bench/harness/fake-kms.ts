/**
 * A counting fake of AWS KMS for the benchmarks: a plain async object (no aws-sdk-client-mock, which costs
 * ~40 µs a call). It answers GenerateDataKey / Encrypt / Decrypt with a random 32-byte data key and a
 * random 184-byte ciphertext blob (the size of a real KMS blob for a 32-byte key), remembering which blob
 * wraps which key so Decrypt returns the right one.
 *
 * Two faces over one store and one set of counters:
 * - `send(command)` for `KMSClient` users (our `KmsKeyring`), dispatching on `instanceof` the command class;
 * - `generateDataKey / encrypt / decrypt` methods for the AWS Encryption SDK's `KmsKeyringNode`, which wants
 *   the aggregated `KMS` client.
 *
 * Every call returns a fresh copy of the plaintext key: the AWS Encryption SDK zeroizes the buffer it gets.
 */
import { randomBytes } from 'node:crypto'
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms'

/** The ARN every benchmark wraps data keys under. */
export const BENCH_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

/** Size of the ciphertext blob KMS returns for a 32-byte data key under a symmetric key. */
export const KMS_BLOB_LENGTH = 184

/** Counters of the calls a {@link FakeKms} answered. */
export interface KmsCallCounts {
  generateDataKey: number
  encrypt: number
  decrypt: number
}

interface KeyResponse {
  readonly KeyId: string
  readonly CiphertextBlob: Uint8Array
  readonly Plaintext?: Uint8Array
}

/**
 * The counting fake KMS client.
 *
 * @example
 * ```ts
 * const kms = new FakeKms()
 * const keyring = new KmsKeyring({ client: kms.asKmsClient(), generatorKeyId: BENCH_KEY_ARN })
 * // … encrypt …
 * console.log(kms.calls.generateDataKey)
 * ```
 */
export class FakeKms {
  readonly calls: KmsCallCounts = { generateDataKey: 0, encrypt: 0, decrypt: 0 }
  /** What `KMSClient#config` would hold; empty: no endpoint to check (nothing goes over the network). */
  readonly config = {}
  readonly #keys = new Map<string, Buffer>()

  /** `KMSClient#send` shape: dispatch on the command class. */
  async send(command: unknown): Promise<KeyResponse> {
    if (command instanceof GenerateDataKeyCommand) return this.generateDataKey(command.input)
    if (command instanceof DecryptCommand) return this.decrypt(command.input)
    if (command instanceof EncryptCommand) return this.encrypt(command.input)
    throw new Error(`FakeKms: unsupported command ${(command as object)?.constructor?.name}`)
  }

  /** Aggregated `KMS#generateDataKey` shape. */
  async generateDataKey(input: { KeyId?: string }): Promise<KeyResponse> {
    this.calls.generateDataKey++
    const plaintext = randomBytes(32)
    return {
      KeyId: input.KeyId ?? BENCH_KEY_ARN,
      CiphertextBlob: this.#wrap(plaintext),
      Plaintext: copy(plaintext),
    }
  }

  /** Aggregated `KMS#encrypt` shape (extra wrapping keys). */
  async encrypt(input: { KeyId?: string; Plaintext?: Uint8Array }): Promise<KeyResponse> {
    this.calls.encrypt++
    if (!input.Plaintext) throw new Error('FakeKms: Encrypt without Plaintext')
    return { KeyId: input.KeyId ?? BENCH_KEY_ARN, CiphertextBlob: this.#wrap(Buffer.from(input.Plaintext)) }
  }

  /** Aggregated `KMS#decrypt` shape. */
  async decrypt(input: { KeyId?: string; CiphertextBlob?: Uint8Array }): Promise<KeyResponse> {
    this.calls.decrypt++
    const blob = input.CiphertextBlob
    const plaintext = blob && this.#keys.get(Buffer.from(blob).toString('base64'))
    if (!blob || !plaintext) throw new Error('FakeKms: unknown ciphertext blob')
    return { KeyId: input.KeyId ?? BENCH_KEY_ARN, CiphertextBlob: blob, Plaintext: copy(plaintext) }
  }

  /** Reset the counters (the remembered keys stay, so old messages still decrypt). */
  resetCounts(): void {
    this.calls.generateDataKey = 0
    this.calls.encrypt = 0
    this.calls.decrypt = 0
  }

  #wrap(plaintext: Buffer): Uint8Array {
    const blob = randomBytes(KMS_BLOB_LENGTH)
    this.#keys.set(blob.toString('base64'), Buffer.from(plaintext))
    return blob
  }
}

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}
