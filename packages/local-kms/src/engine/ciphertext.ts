import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { canonicalContext } from './context.js'
import { fail } from './errors.js'
import type { EncryptionContext } from './types.js'

/**
 * The local KMS ciphertext blob (version 1). All integers big-endian.
 *
 * ```
 * magic 'LKMS' (4) | version 0x01 (1) | arnLength (2) | key ARN (utf-8) | material version (4)
 * | iv (12) | tag (16) | AES-256-GCM ciphertext
 * ```
 * The AAD is the header (magic .. material version) followed by the canonical encryption context, so the
 * key ARN, the backing-key version and the context are all authenticated. Internal.
 */
const MAGIC = Buffer.from('LKMS', 'ascii')
const VERSION = 1
const IV_LENGTH = 12
const TAG_LENGTH = 16

/** The parsed, not yet authenticated, header of a blob. */
export interface BlobHeader {
  keyArn: string
  materialVersion: number
  header: Buffer
  iv: Buffer
  tag: Buffer
  body: Buffer
}

/** Encrypt `plaintext` under one material version of a key. */
export function sealBlob(
  keyArn: string,
  materialVersion: number,
  material: Buffer,
  plaintext: Buffer,
  context: EncryptionContext,
): Buffer {
  const arn = Buffer.from(keyArn, 'utf8')
  const header = Buffer.alloc(4 + 1 + 2 + arn.length + 4)
  MAGIC.copy(header, 0)
  header.writeUInt8(VERSION, 4)
  header.writeUInt16BE(arn.length, 5)
  arn.copy(header, 7)
  header.writeUInt32BE(materialVersion, 7 + arn.length)
  const iv = randomBytes(IV_LENGTH)
  const cipher = createCipheriv('aes-256-gcm', material, iv)
  cipher.setAAD(Buffer.concat([header, canonicalContext(context)]))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([header, iv, cipher.getAuthTag(), body])
}

/** Parse a blob's header. Throws `InvalidCiphertextException` on anything malformed. */
export function parseBlob(blob: Buffer): BlobHeader {
  // Precondition: long enough for magic, version, ARN length, material version, iv and tag.
  if (blob.length < 7 + 4 + IV_LENGTH + TAG_LENGTH) throw fail.invalidCiphertext()
  // Precondition: our magic and a version we know.
  if (!blob.subarray(0, 4).equals(MAGIC) || blob.readUInt8(4) !== VERSION) throw fail.invalidCiphertext()
  const arnLength = blob.readUInt16BE(5)
  const headerLength = 7 + arnLength + 4
  // Precondition: the declared ARN fits in the blob.
  if (blob.length < headerLength + IV_LENGTH + TAG_LENGTH) throw fail.invalidCiphertext()
  const keyArn = blob.subarray(7, 7 + arnLength).toString('utf8')
  const materialVersion = blob.readUInt32BE(7 + arnLength)
  return {
    keyArn,
    materialVersion,
    header: blob.subarray(0, headerLength),
    iv: blob.subarray(headerLength, headerLength + IV_LENGTH),
    tag: blob.subarray(headerLength + IV_LENGTH, headerLength + IV_LENGTH + TAG_LENGTH),
    body: blob.subarray(headerLength + IV_LENGTH + TAG_LENGTH),
  }
}

/** Authenticate and decrypt a parsed blob. Throws `InvalidCiphertextException` when the tag does not verify. */
export function openBlob(parsed: BlobHeader, material: Buffer, context: EncryptionContext): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, parsed.iv)
    decipher.setAAD(Buffer.concat([parsed.header, canonicalContext(context)]))
    decipher.setAuthTag(parsed.tag)
    return Buffer.concat([decipher.update(parsed.body), decipher.final()])
  } catch {
    // Postcondition: a wrong context, a wrong key or a modified blob are indistinguishable to the caller.
    throw fail.invalidCiphertext()
  }
}
