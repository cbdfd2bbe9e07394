import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  KmsKeyringNode,
} from '@aws-crypto/client-node'
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  type EncryptionContext,
  InvalidEncryptionContextError,
  KmsEnvelopeError,
  tryParseKmsArn,
} from '@kms-envelope/core'
import { ESDK_RESERVED_PREFIX } from './guard.js'
import { clientLookup, KmsCallLog } from './kms-adapter.js'

/**
 * Options of {@link EsdkWriter}.
 *
 * @example
 * ```ts
 * const options: EsdkWriterOptions = { client, generatorKeyId: keyArn, signed: false, frameLength: 65536 }
 * ```
 */
export interface EsdkWriterOptions {
  /** The KMS client (see `clientForRegion` for keys in several regions). */
  readonly client?: KMSClient
  /** A client per region; wins over `client`. */
  readonly clientForRegion?: (region: string) => KMSClient | undefined
  /** Key ARN that generates each data key (GenerateDataKey). */
  readonly generatorKeyId: string
  /** More key ARNs that wrap the same data key (Encrypt), e.g. a key in another region. */
  readonly additionalKeyIds?: readonly string[]
  readonly grantTokens?: readonly string[]
  /**
   * `true` (default, the ESDK's default suite): committing + ECDSA P-384 signature, so readers that may
   * only decrypt cannot forge messages. `false`: the committing non-signing suite (smaller, streamable).
   */
  readonly signed?: boolean
  /** Plaintext bytes per frame. Default 4096 (the ESDK's default). */
  readonly frameLength?: number
}

/**
 * Options of {@link EsdkWriter.encrypt}.
 *
 * @example
 * ```ts
 * const options: EsdkEncryptOptions = { context: { tenant: 'acme' } }
 * ```
 */
export interface EsdkEncryptOptions {
  /** Non-secret pairs bound to the message (and to the KMS call). Keys starting `aws-crypto-` are reserved. */
  readonly context?: EncryptionContext
}

/**
 * Writes AWS Encryption SDK messages (format 2, committing suites only, KMS keyring) for consumers that
 * still read with the ESDK during a migration — through the ESDK itself, with the caller's `KMSClient` and
 * kms-envelope's typed errors.
 *
 * @example
 * ```ts
 * import { EsdkWriter } from '@kms-envelope/esdk-interop'
 * const writer = new EsdkWriter({ client, generatorKeyId: keyArn })
 * const esdkMessage = await writer.encrypt(Buffer.from('for a consumer on the ESDK'), { context: { tenant: 'acme' } })
 * ```
 */
export class EsdkWriter {
  readonly #clientFor: (region: string) => KMSClient | undefined
  /** The ESDK keyring options of every message (each message gets its own keyring and call log). */
  readonly #keyring: { generatorKeyId: string; keyIds: string[]; grantTokens?: string[] }
  readonly #suiteId: AlgorithmSuiteIdentifier
  readonly #frameLength: number
  readonly #esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

  constructor(options: EsdkWriterOptions) {
    this.#clientFor = clientLookup('EsdkWriter', options)
    const ids = [options.generatorKeyId, ...(options.additionalKeyIds ?? [])]
    const bad = ids.find((id) => tryParseKmsArn(id)?.resourceType !== 'key')
    // Precondition: key ARNs, so ESDK readers in strict mode can match them.
    if (bad !== undefined) {
      throw new ConfigurationError(
        `EsdkWriter takes KMS key ARNs (got "${bad}").`,
        'Use full key ARNs (arn:aws:kms:region:account:key/id); strict ESDK readers match the ARN recorded in the message.',
      )
    }
    const frameLength = options.frameLength ?? 4096
    // Precondition: a frame length the ESDK accepts.
    if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > 2 ** 31 - 1) {
      throw new ConfigurationError(
        `frameLength ${frameLength} is out of range.`,
        'Use 1..2^31-1 (default 4096).',
      )
    }
    this.#keyring = {
      generatorKeyId: options.generatorKeyId,
      keyIds: [...(options.additionalKeyIds ?? [])],
      ...(options.grantTokens ? { grantTokens: [...options.grantTokens] } : {}),
    }
    this.#suiteId =
      options.signed === false
        ? AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY
        : AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
    this.#frameLength = frameLength
  }

  /**
   * Encrypt bytes or a string into one ESDK message (one GenerateDataKey, plus one Encrypt per additional key).
   *
   * @example
   * ```ts
   * const message = await writer.encrypt('hello', { context: { tenant: 'acme' } })
   * ```
   */
  async encrypt(plaintext: Uint8Array | string, options: EsdkEncryptOptions = {}): Promise<Uint8Array> {
    const context = options.context ?? {}
    // Precondition: string pairs, non-empty keys, none reserved by the ESDK.
    for (const [k, v] of Object.entries(context)) {
      if (k.length === 0 || typeof v !== 'string') {
        throw new InvalidEncryptionContextError(
          `the pair "${k}" must have a non-empty key and a string value`,
        )
      }
      if (k.startsWith(ESDK_RESERVED_PREFIX)) {
        throw new InvalidEncryptionContextError(`"${k}" is reserved by the AWS Encryption SDK`)
      }
    }
    const log = new KmsCallLog(this.#clientFor)
    const keyring = new KmsKeyringNode({ ...this.#keyring, clientProvider: log.provider })
    try {
      const { result } = await this.#esdk.encrypt(keyring, plaintext, {
        suiteId: this.#suiteId,
        encryptionContext: { ...context },
        frameLength: this.#frameLength,
      })
      return new Uint8Array(result.buffer, result.byteOffset, result.byteLength)
    } catch (err) {
      if (log.firstError) throw log.firstError
      if (err instanceof KmsEnvelopeError) throw err
      throw new ConfigurationError(
        `The AWS Encryption SDK refused to encrypt (${err instanceof Error ? err.message : String(err)}).`,
        'Check the key ARNs, the KMS client region and the encryption context.',
        { cause: err },
      )
    }
  }
}
