import { NONCE_LENGTH } from './constants.js'
import { type MessageHeader, parseHeader } from './header.js'

const FINGERPRINT_BYTES = 48
const MAX_TEMPLATES = 256
/** Only ordinary headers are kept, so unauthenticated input can pin at most 256 × 4 KiB. */
const MAX_TEMPLATE_BYTES = 4096

/**
 * Parsing a header costs more than decrypting a 1 KiB message, yet every message under one data key and
 * context has the same header except its nonce. This memo keeps parsed headers ("templates") by their
 * exact bytes without the nonce: a message whose leading bytes equal a template's (a memcmp) reuses the
 * parsed fields and only slices its own nonce. A message that matches no template is parsed in full; the
 * result is identical either way.
 */
export class HeaderMemo {
  #templates = new Map<string, MessageHeader[]>()
  #size = 0

  #last: MessageHeader | undefined

  parse(message: Uint8Array): MessageHeader {
    const last = this.#last
    if (last && matches(message, last)) return instantiate(message, last)
    const key = fingerprint(message)
    const candidates = this.#templates.get(key)
    if (candidates) {
      for (const t of candidates) {
        if (matches(message, t)) {
          this.#last = t
          return instantiate(message, t)
        }
      }
    }
    const header = parseHeader(message)
    this.#remember(key, header)
    this.#last = header
    return header
  }

  #remember(key: string, header: MessageHeader): void {
    if (header.bytes.length > MAX_TEMPLATE_BYTES) return
    if (this.#size >= MAX_TEMPLATES) {
      this.#templates.clear()
      this.#size = 0
    }
    const list = this.#templates.get(key)
    if (list) list.push(header)
    else this.#templates.set(key, [header])
    this.#size++
  }
}

function matches(message: Uint8Array, t: MessageHeader): boolean {
  const prefixLength = t.bytes.length - NONCE_LENGTH
  if (message.length < t.bytes.length) return false
  const a = Buffer.from(message.buffer, message.byteOffset, prefixLength)
  return a.compare(t.bytes, 0, prefixLength, 0, prefixLength) === 0
}

/** The template's fields with this message's nonce and header bytes (views into `message`). */
function instantiate(message: Uint8Array, t: MessageHeader): MessageHeader {
  const length = t.bytes.length
  return {
    version: t.version,
    suite: t.suite,
    contentType: t.contentType,
    frameLength: t.frameLength,
    context: t.context,
    contextStored: t.contextStored,
    encryptedDataKeys: t.encryptedDataKeys,
    commitment: t.commitment,
    keyIdentity: t.keyIdentity,
    dataKeyIdentity: t.dataKeyIdentity,
    nonce: message.subarray(length - NONCE_LENGTH, length),
    bytes: message.subarray(0, length),
  }
}

function fingerprint(message: Uint8Array): string {
  return Buffer.from(
    message.buffer,
    message.byteOffset,
    Math.min(FINGERPRINT_BYTES, message.length),
  ).toString('latin1')
}
