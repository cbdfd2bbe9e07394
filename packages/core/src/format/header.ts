import { MalformedCiphertextError, UnsupportedFormatError } from '../errors/errors.js'
import { type EncryptedDataKey, type EncryptionContext, WrappingType } from '../keyring/types.js'
import {
  COMMITMENT_LENGTH,
  ContentType,
  FORMAT_VERSION,
  MAX_BLOB_BYTES,
  MAX_CONTEXT_BYTES,
  MAX_CONTEXT_PAIRS,
  MAX_ENCRYPTED_DATA_KEYS,
  MAX_FRAME_LENGTH,
  MAX_KEY_ID_BYTES,
  NONCE_LENGTH,
  Suite,
} from './constants.js'
import type { EncodedPair } from './context.js'
import { readVarint, varintLength, writeVarint } from './varint.js'

/** The parsed, not yet authenticated, header of a message. */
export interface MessageHeader {
  readonly version: typeof FORMAT_VERSION
  readonly suite: Suite
  readonly contentType: ContentType
  /** Plaintext bytes per regular frame (framed messages); 0 for single messages. */
  readonly frameLength: number
  /** The stored context; empty for compact messages, whose context the reader supplies. */
  readonly context: EncryptionContext
  /** False for compact messages: the context is authenticated but not stored. */
  readonly contextStored: boolean
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
  readonly commitment: Uint8Array
  readonly nonce: Uint8Array
  /** The exact header bytes: authenticated as additional data of every frame. */
  readonly bytes: Uint8Array
  /**
   * The header bytes that identify the data key and context (suite, context, wrapped keys, commitment) as a
   * latin1 string: the decrypt-side cache key. Same for every message under one data key and context.
   */
  readonly keyIdentity: string
  /**
   * Like `keyIdentity` but without the context (suite, wrapped keys, commitment): the decrypt-side cache key
   * for keyrings whose data keys do not depend on the whole context (scope keys, see `Keyring.dataKeyScope`).
   */
  readonly dataKeyIdentity: string
}

/** Thrown internally when the bytes end inside the header; streaming decryption waits for more. */
export class IncompleteHeader extends Error {
  /**
   * @param needed Total bytes the header needs at least before parsing can get further (the end of the field
   *   it stopped in, or one more byte inside a varint): a stream waits for that many before parsing again.
   */
  constructor(readonly needed: number) {
    super('the bytes end inside the message header')
  }
}

const KNOWN_WRAPPING_TYPES = new Set<number>([1, 2])
const MAX_HEADER_BYTES =
  3 +
  4 +
  4 +
  MAX_CONTEXT_BYTES +
  MAX_CONTEXT_PAIRS * 8 +
  1 +
  MAX_ENCRYPTED_DATA_KEYS * (1 + 4 + MAX_KEY_ID_BYTES + 4 + MAX_BLOB_BYTES) +
  COMMITMENT_LENGTH +
  NONCE_LENGTH

/** Everything of a header except the nonce, which is random per message. */
export interface HeaderFields {
  readonly suite: Suite
  readonly contentType: ContentType
  readonly frameLength: number
  readonly pairs: readonly EncodedPair[]
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
  readonly commitment: Uint8Array
}

interface EncodedEdk {
  readonly type: WrappingType
  readonly id: Buffer
  readonly blob: Uint8Array
}

/**
 * Encode the header without its trailing nonce. The result is the same for every message under one data
 * key and context, so the envelope computes it once per cached data key and only appends a nonce.
 */
export function encodeHeaderPrefix(fields: HeaderFields): Buffer {
  const edks: EncodedEdk[] = []
  // Precondition: 1..MAX_ENCRYPTED_DATA_KEYS wrapped keys, each within its limits.
  if (fields.encryptedDataKeys.length === 0 || fields.encryptedDataKeys.length > MAX_ENCRYPTED_DATA_KEYS) {
    throw new MalformedCiphertextError(`a message needs 1 to ${MAX_ENCRYPTED_DATA_KEYS} encrypted data keys`)
  }
  for (const edk of fields.encryptedDataKeys) {
    const id = Buffer.from(edk.keyId, 'utf8')
    if (!KNOWN_WRAPPING_TYPES.has(edk.type))
      throw new MalformedCiphertextError(`unknown wrapping type ${edk.type}`)
    if (id.length > MAX_KEY_ID_BYTES)
      throw new MalformedCiphertextError(`key id longer than ${MAX_KEY_ID_BYTES} bytes`)
    if (edk.blob.length > MAX_BLOB_BYTES)
      throw new MalformedCiphertextError(`wrapped key longer than ${MAX_BLOB_BYTES} bytes`)
    edks.push({ type: edk.type, id, blob: edk.blob })
  }
  // Precondition: commitment has its fixed length; frame length in range for framed content.
  if (fields.commitment.length !== COMMITMENT_LENGTH)
    throw new MalformedCiphertextError('bad commitment length')
  if (fields.contentType === ContentType.Compact) return encodeCompactPrefix(fields, edks)
  const framed = fields.contentType === ContentType.Framed
  if (framed && (fields.frameLength < 1 || fields.frameLength > MAX_FRAME_LENGTH)) {
    throw new MalformedCiphertextError(`frame length must be 1..${MAX_FRAME_LENGTH}`)
  }

  let size = 3 + (framed ? 4 : 0) + varintLength(fields.pairs.length)
  for (const p of fields.pairs)
    size += varintLength(p.key.length) + p.key.length + varintLength(p.value.length) + p.value.length
  size += varintLength(edks.length)
  for (const e of edks)
    size += 1 + varintLength(e.id.length) + e.id.length + varintLength(e.blob.length) + e.blob.length
  size += COMMITMENT_LENGTH

  const out = Buffer.allocUnsafe(size)
  let o = 0
  out[o++] = FORMAT_VERSION
  out[o++] = fields.suite
  out[o++] = fields.contentType
  if (framed) o = out.writeUInt32BE(fields.frameLength, o)
  o = writeVarint(out, o, fields.pairs.length)
  for (const p of fields.pairs) {
    o = writeVarint(out, o, p.key.length)
    o += p.key.copy(out, o)
    o = writeVarint(out, o, p.value.length)
    o += p.value.copy(out, o)
  }
  o = writeVarint(out, o, edks.length)
  for (const e of edks) {
    out[o++] = e.type
    o = writeVarint(out, o, e.id.length)
    o += e.id.copy(out, o)
    o = writeVarint(out, o, e.blob.length)
    out.set(e.blob, o)
    o += e.blob.length
  }
  out.set(fields.commitment, o)
  o += COMMITMENT_LENGTH
  // Postcondition: the computed size was exact.
  if (o !== size) throw new Error('header size mismatch (bug)')
  return out
}

/**
 * Compact header prefix: version, suite, 0x03, `varint blob length`, the KMS blob, commitment. The context
 * and the KMS key id are not stored.
 */
function encodeCompactPrefix(fields: HeaderFields, edks: readonly EncodedEdk[]): Buffer {
  const edk = edks[0]!
  // Precondition: exactly one KMS-wrapped key (its key id is left out: the reader names the key).
  if (edks.length !== 1 || edk.type !== WrappingType.AwsKms) {
    throw new MalformedCiphertextError('a compact message carries exactly one KMS-wrapped data key')
  }
  const out = Buffer.allocUnsafe(3 + varintLength(edk.blob.length) + edk.blob.length + COMMITMENT_LENGTH)
  out[0] = FORMAT_VERSION
  out[1] = fields.suite
  out[2] = ContentType.Compact
  let o = writeVarint(out, 3, edk.blob.length)
  out.set(edk.blob, o)
  o += edk.blob.length
  out.set(fields.commitment, o)
  o += COMMITMENT_LENGTH
  // Postcondition: the computed size was exact.
  if (o !== out.length) throw new Error('compact header size mismatch (bug)')
  return out
}

/**
 * Parse the header at the start of `bytes`. Throws {@link IncompleteHeader} if `bytes` ends inside the header,
 * MalformedCiphertextError / UnsupportedFormatError if it is not a v1 header. Nothing is authenticated yet:
 * callers must not act on the header beyond choosing a key and checking the expected context.
 */
export function parseHeader(bytes: Uint8Array): MessageHeader {
  const incomplete = (needed: number): never => {
    // Postcondition: a header never exceeds MAX_HEADER_BYTES, so a stream cannot make us buffer forever.
    if (needed > MAX_HEADER_BYTES) throw new MalformedCiphertextError('header exceeds its size limit')
    throw new IncompleteHeader(needed)
  }
  const need = (n: number, o: number) => {
    if (o + n > bytes.length) incomplete(o + n)
  }
  const text = (o: number, n: number) => {
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + o, n)
    const str = s.toString('utf8')
    // Precondition: valid UTF-8 (re-encoding gives the same bytes).
    if (Buffer.byteLength(str, 'utf8') !== n || !Buffer.from(str, 'utf8').equals(s)) {
      throw new MalformedCiphertextError('a header string is not valid UTF-8')
    }
    return str
  }
  const varint = (o: number, field: string): [number, number] => {
    // The varint is incomplete only if the bytes end before its last byte (one without the continuation bit);
    // any other defect (overlong, not minimal) is malformed however many bytes follow.
    for (let i = 0; i < 4; i++) {
      const byte = bytes[o + i]
      if (byte === undefined) incomplete(o + i + 1)
      else if ((byte & 0x80) === 0) break
    }
    return readVarint(bytes, o, field)
  }

  need(3, 0)
  const version = bytes[0]!
  // Precondition: a version this library reads.
  if (version !== FORMAT_VERSION) {
    throw new UnsupportedFormatError(
      `Message format version ${version} is not supported (this library reads version 1).`,
    )
  }
  const suite = bytes[1]!
  // Precondition: a known algorithm suite.
  if (suite !== Suite.AES_256_GCM_CMAC_KDF_COMMIT) {
    throw new UnsupportedFormatError(
      `Algorithm suite 0x${suite.toString(16).padStart(2, '0')} is not supported.`,
    )
  }
  const contentType = bytes[2]!
  // Precondition: a known content type.
  if (
    contentType !== ContentType.Single &&
    contentType !== ContentType.Framed &&
    contentType !== ContentType.Compact
  ) {
    throw new MalformedCiphertextError(`unknown content type ${contentType}`)
  }
  if (contentType === ContentType.Compact) return parseCompact(bytes, suite as Suite, need, varint)
  let o = 3
  let frameLength = 0
  if (contentType === ContentType.Framed) {
    need(4, o)
    frameLength = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(o)
    o += 4
    // Precondition: frame length in range.
    if (frameLength < 1 || frameLength > MAX_FRAME_LENGTH)
      throw new MalformedCiphertextError('frame length out of range')
  }

  const identityStart = o
  let pairCount: number
  ;[pairCount, o] = varint(o, 'context pair count')
  // Precondition: context within its limits.
  if (pairCount > MAX_CONTEXT_PAIRS) throw new MalformedCiphertextError('too many encryption context pairs')
  const context: Record<string, string> = Object.create(null)
  let previousKey: Buffer | undefined
  let contextBytes = 0
  for (let i = 0; i < pairCount; i++) {
    let kl: number
    let vl: number
    ;[kl, o] = varint(o, 'context key length')
    // Precondition: the context stays within its limit (checked before waiting for the bytes).
    if (contextBytes + kl > MAX_CONTEXT_BYTES)
      throw new MalformedCiphertextError('encryption context too large')
    need(kl, o)
    const keyBytes = Buffer.from(bytes.buffer, bytes.byteOffset + o, kl)
    const key = text(o, kl)
    o += kl
    ;[vl, o] = varint(o, 'context value length')
    if (contextBytes + kl + vl > MAX_CONTEXT_BYTES)
      throw new MalformedCiphertextError('encryption context too large')
    need(vl, o)
    const value = text(o, vl)
    o += vl
    contextBytes += kl + vl
    // Precondition: keys non-empty, strictly ascending (canonical: sorted and unique).
    if (kl === 0) throw new MalformedCiphertextError('empty encryption context key')
    if (previousKey && Buffer.compare(previousKey, keyBytes) >= 0) {
      throw new MalformedCiphertextError('encryption context is not in canonical order')
    }
    if (contextBytes > MAX_CONTEXT_BYTES) throw new MalformedCiphertextError('encryption context too large')
    previousKey = keyBytes
    context[key] = value
  }

  const edkStart = o
  let edkCount: number
  ;[edkCount, o] = varint(o, 'encrypted data key count')
  // Precondition: 1..MAX_ENCRYPTED_DATA_KEYS wrapped keys.
  if (edkCount < 1 || edkCount > MAX_ENCRYPTED_DATA_KEYS) {
    throw new MalformedCiphertextError(`encrypted data key count ${edkCount} out of range`)
  }
  const encryptedDataKeys: EncryptedDataKey[] = []
  for (let i = 0; i < edkCount; i++) {
    need(1, o)
    const type = bytes[o++]!
    if (!KNOWN_WRAPPING_TYPES.has(type)) throw new MalformedCiphertextError(`unknown wrapping type ${type}`)
    let idLength: number
    let blobLength: number
    ;[idLength, o] = varint(o, 'key id length')
    if (idLength > MAX_KEY_ID_BYTES) throw new MalformedCiphertextError('key id too long')
    // Precondition: every wrapped key names its key (only the compact header leaves the KMS key unnamed; an
    // unnamed key here would make a strict keyring try each of its keys, a KMS call per key and wrapped key).
    if (idLength === 0) throw new MalformedCiphertextError('empty key id')
    need(idLength, o)
    const keyId = text(o, idLength)
    o += idLength
    ;[blobLength, o] = varint(o, 'wrapped key length')
    if (blobLength > MAX_BLOB_BYTES) throw new MalformedCiphertextError('wrapped key too long')
    need(blobLength, o)
    const blob = Uint8Array.prototype.slice.call(bytes, o, o + blobLength)
    o += blobLength
    encryptedDataKeys.push(Object.freeze({ type: type as WrappingType, keyId, blob }))
  }

  need(COMMITMENT_LENGTH + NONCE_LENGTH, o)
  const commitment = Uint8Array.prototype.slice.call(bytes, o, o + COMMITMENT_LENGTH)
  o += COMMITMENT_LENGTH
  const keyIdentity =
    String.fromCharCode(suite) +
    Buffer.from(bytes.buffer, bytes.byteOffset + identityStart, o - identityStart).toString('latin1')
  const dataKeyIdentity = String.fromCharCode(suite) + keyIdentity.slice(1 + edkStart - identityStart)
  const nonce = Uint8Array.prototype.slice.call(bytes, o, o + NONCE_LENGTH)
  o += NONCE_LENGTH

  return {
    version: FORMAT_VERSION,
    suite: suite as Suite,
    contentType: contentType as ContentType,
    frameLength,
    context: Object.freeze(context),
    contextStored: true,
    encryptedDataKeys: Object.freeze(encryptedDataKeys),
    commitment,
    nonce,
    bytes: Uint8Array.prototype.slice.call(bytes, 0, o),
    keyIdentity,
    dataKeyIdentity,
  }
}

const NO_CONTEXT: EncryptionContext = Object.freeze(Object.create(null))

/** The rest of a compact header (after version, suite and content type). */
function parseCompact(
  bytes: Uint8Array,
  suite: Suite,
  need: (n: number, o: number) => void,
  varint: (o: number, field: string) => [number, number],
): MessageHeader {
  const [blobLength, afterLength] = varint(3, 'wrapped key length')
  let o = afterLength
  // Precondition: a non-empty KMS blob within its limit.
  if (blobLength === 0 || blobLength > MAX_BLOB_BYTES)
    throw new MalformedCiphertextError('bad wrapped key length')
  need(blobLength + COMMITMENT_LENGTH + NONCE_LENGTH, o)
  const blob = Uint8Array.prototype.slice.call(bytes, o, o + blobLength)
  o += blobLength
  const commitment = Uint8Array.prototype.slice.call(bytes, o, o + COMMITMENT_LENGTH)
  o += COMMITMENT_LENGTH
  const identity =
    String.fromCharCode(suite) + Buffer.from(bytes.buffer, bytes.byteOffset + 3, o - 3).toString('latin1')
  const nonce = Uint8Array.prototype.slice.call(bytes, o, o + NONCE_LENGTH)
  o += NONCE_LENGTH
  return {
    version: FORMAT_VERSION,
    suite,
    contentType: ContentType.Compact,
    frameLength: 0,
    context: NO_CONTEXT,
    contextStored: false,
    encryptedDataKeys: Object.freeze([Object.freeze({ type: WrappingType.AwsKms, keyId: '', blob })]),
    commitment,
    nonce,
    bytes: Uint8Array.prototype.slice.call(bytes, 0, o),
    keyIdentity: identity,
    dataKeyIdentity: identity,
  }
}
