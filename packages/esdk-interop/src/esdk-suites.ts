/**
 * The algorithm suites of the AWS Encryption SDK message format, as read from a message's first bytes.
 * Names follow the ESDK's `AlgorithmSuiteIdentifier`.
 */

/**
 * What a suite id means for a reader: message format version, signature, key commitment.
 *
 * @example
 * ```ts
 * const suite: EsdkSuite | undefined = esdkSuiteOf(bytes)
 * if (suite && !suite.committing) console.log(`legacy ${suite.name}: migrate it`)
 * ```
 */
export interface EsdkSuite {
  /** The two-byte suite id, e.g. `0x0578`. */
  readonly id: number
  /** The ESDK's name, e.g. `ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384`. */
  readonly name: string
  /** Message format version this suite is written with: 1 (legacy) or 2 (committing suites). */
  readonly messageVersion: 1 | 2
  /** ECDSA-signed: the signature at the end of the message is only verified once the whole message is read. */
  readonly signed: boolean
  /** Key-committing (the header carries a commitment to the data key). */
  readonly committing: boolean
  /** Derives the message key with HKDF (false: the data key encrypts directly, a deprecated ESDK suite). */
  readonly kdf: boolean
}

const suite = (id: number, name: string, signed: boolean, committing: boolean, kdf = true): EsdkSuite => ({
  id,
  name,
  messageVersion: committing ? 2 : 1,
  signed,
  committing,
  kdf,
})

/**
 * Every suite the ESDK for JavaScript 5.x reads, by id.
 *
 * @example
 * ```ts
 * import { ESDK_SUITES } from '@kms-envelope/esdk-interop'
 * ESDK_SUITES.get(0x0478)?.signed // false: the committing, non-signing suite
 * ```
 */
export const ESDK_SUITES: ReadonlyMap<number, EsdkSuite> = new Map(
  [
    suite(0x0014, 'ALG_AES128_GCM_IV12_TAG16', false, false, false),
    suite(0x0046, 'ALG_AES192_GCM_IV12_TAG16', false, false, false),
    suite(0x0078, 'ALG_AES256_GCM_IV12_TAG16', false, false, false),
    suite(0x0114, 'ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256', false, false),
    suite(0x0146, 'ALG_AES192_GCM_IV12_TAG16_HKDF_SHA256', false, false),
    suite(0x0178, 'ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256', false, false),
    suite(0x0214, 'ALG_AES128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256', true, false),
    suite(0x0346, 'ALG_AES192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384', true, false),
    suite(0x0378, 'ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384', true, false),
    suite(0x0478, 'ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY', false, true),
    suite(0x0578, 'ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384', true, true),
  ].map((s) => [s.id, s]),
)
