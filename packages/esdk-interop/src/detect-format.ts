import { ESDK_SUITES, type EsdkSuite } from './esdk-suites.js'

/**
 * The formats {@link detectFormat} tells apart.
 *
 * @example
 * ```ts
 * const format: MessageFormat = detectFormat(bytes) // 'kms-envelope' | 'aws-encryption-sdk' | 'unknown'
 * ```
 */
export type MessageFormat = 'kms-envelope' | 'aws-encryption-sdk' | 'unknown'

/**
 * The ESDK suite a message declares in its first bytes, or `undefined` if the bytes do not start an ESDK
 * message (v1: `0x01 0x80` + suite; v2: `0x02` + a committing suite). Reads at most 4 bytes; nothing is
 * authenticated.
 *
 * @example
 * ```ts
 * import { esdkSuiteOf } from '@kms-envelope/esdk-interop'
 * const suite = esdkSuiteOf(message)
 * if (suite?.signed) console.log('signed: verified only at the end of the message')
 * ```
 */
export function esdkSuiteOf(bytes: Uint8Array): EsdkSuite | undefined {
  if (bytes.length >= 4 && bytes[0] === 0x01 && bytes[1] === 0x80) {
    const found = ESDK_SUITES.get((bytes[2]! << 8) | bytes[3]!)
    // Postcondition: format v1 carries only non-committing suites.
    return found && found.messageVersion === 1 ? found : undefined
  }
  if (bytes.length >= 3 && bytes[0] === 0x02) {
    const found = ESDK_SUITES.get((bytes[1]! << 8) | bytes[2]!)
    // Postcondition: format v2 carries only committing suites.
    return found && found.messageVersion === 2 ? found : undefined
  }
  return undefined
}

/**
 * Which format a message is in, from its first bytes only (no key, no KMS call, nothing authenticated):
 * kms-envelope messages start `0x01 0x02` (version 1, suite 0x02) then a content type `0x01`/`0x02`;
 * ESDK messages start `0x01 0x80` + a v1 suite id, or `0x02` + a v2 suite id. Use it to route stored
 * objects during a migration; the decryptor still rejects anything invalid.
 *
 * @example
 * ```ts
 * import { detectFormat } from '@kms-envelope/esdk-interop'
 * async function open(bytes: Uint8Array) {
 *   switch (detectFormat(bytes)) {
 *     case 'kms-envelope': return envelope.decrypt(bytes)
 *     case 'aws-encryption-sdk': return reader.decrypt(bytes)
 *     default: throw new Error('not an encrypted message')
 *   }
 * }
 * ```
 */
export function detectFormat(bytes: Uint8Array): MessageFormat {
  // Precondition: bytes.
  if (!(bytes instanceof Uint8Array)) return 'unknown'
  if (
    bytes.length >= 3 &&
    bytes[0] === 0x01 &&
    bytes[1] === 0x02 &&
    (bytes[2] === 0x01 || bytes[2] === 0x02)
  ) {
    return 'kms-envelope'
  }
  return esdkSuiteOf(bytes) ? 'aws-encryption-sdk' : 'unknown'
}
