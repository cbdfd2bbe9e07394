import { TruncatedCiphertextError } from '../errors/errors.js'
import { ContentType } from '../format/constants.js'
import { IncompleteHeader, type MessageHeader, parseHeader } from '../format/header.js'
import type { HeaderMemo } from '../format/header-memo.js'
import { readVarint } from '../format/varint.js'
import { type EncryptedDataKey, type EncryptionContext, WrappingType } from '../keyring/types.js'

/** What {@link inspect} reveals about a message without any key. Nothing here is authenticated yet. */
export interface MessageInfo {
  readonly version: number
  /** The algorithm suite (docs/FORMAT.md section 2): AES-256-GCM, XAES-256-GCM's CMAC KDF, HKDF-SHA-256 commitment. */
  readonly suite: 'AES-256-GCM/CMAC-KDF/commit'
  readonly framed: boolean
  /** False for compact messages: `context` is then empty, the reader supplies it, and the KMS key id is ''. */
  readonly contextStored: boolean
  /** Plaintext bytes per frame (framed messages), else 0. */
  readonly frameLength: number
  readonly context: EncryptionContext
  readonly encryptedDataKeys: ReadonlyArray<{
    type: 'aws-kms' | 'scope-key'
    keyId: string
    blobLength: number
    /** Scope-key entries: the scope key version the message uses (undefined if the reference is malformed). */
    version?: number | undefined
  }>
  readonly headerLength: number
}

/** @internal Parse a message header, turning "ends inside the header" into TruncatedCiphertextError. */
export function readHeader(message: Uint8Array, memo?: HeaderMemo): MessageHeader {
  try {
    return memo ? memo.parse(message) : parseHeader(message)
  } catch (err) {
    if (err instanceof IncompleteHeader)
      throw new TruncatedCiphertextError('The message ends inside its header.')
    throw err
  }
}

/**
 * Read a message's header without any key and without calling KMS: which keys wrap its data key, its
 * encryption context, its layout. Use it to route a message to the right decryptor, or to audit which KMS
 * keys your stored data depends on. The values are NOT authenticated until the message is decrypted.
 *
 * @example
 * ```ts
 * import { inspect } from '@kms-envelope/core'
 * const info = inspect(ciphertext)
 * console.log(info.context.tenant, info.encryptedDataKeys.map((k) => k.keyId))
 * ```
 */
export function inspect(message: Uint8Array): MessageInfo {
  const h = readHeader(message)
  return {
    version: h.version,
    suite: 'AES-256-GCM/CMAC-KDF/commit',
    framed: h.contentType === ContentType.Framed,
    contextStored: h.contextStored,
    frameLength: h.frameLength,
    context: h.context,
    encryptedDataKeys: h.encryptedDataKeys.map((k: EncryptedDataKey) =>
      k.type === WrappingType.AwsKms
        ? { type: 'aws-kms' as const, keyId: k.keyId, blobLength: k.blob.length }
        : {
            type: 'scope-key' as const,
            keyId: k.keyId,
            blobLength: k.blob.length,
            version: scopeVersion(k.blob),
          },
    ),
    headerLength: h.bytes.length,
  }
}

function scopeVersion(blob: Uint8Array): number | undefined {
  try {
    const [version, end] = readVarint(blob, 0, 'scope key version')
    return end === blob.length ? version : undefined
  } catch {
    return undefined
  }
}
