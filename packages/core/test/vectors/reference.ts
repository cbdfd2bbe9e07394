// An independent, deliberately plain implementation of envelope format v1 written from docs/FORMAT.md,
// using crypto.hkdfSync (not the library's HMAC code) and a textbook AES-CMAC (NIST SP 800-38B, over
// AES-256-CBC with a zero IV; not the library's single-block shortcut). It generates the known-answer
// vectors and checks the library against them.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'

export interface RefEdk {
  type: number
  keyId: string
  blobHex: string
}

export interface RefInput {
  dataKeyHex: string
  nonceHex: string
  context: Record<string, string>
  edks: RefEdk[]
  frameLength: number // 0 = single
  plaintextHex: string
  /** Compact (content type 0x03): context authenticated but not stored, one KMS key, its id not stored. */
  compact?: boolean
}

const SALT = Buffer.from('kms-envelope/v1/AES-256-GCM/HKDF-SHA256/commit', 'ascii')

function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return Buffer.from(out)
}

function lp(b: Buffer): Buffer {
  return Buffer.concat([varint(b.length), b])
}

export function refCommitment(dataKey: Buffer): Buffer {
  return Buffer.from(
    hkdfSync('sha256', dataKey, SALT, Buffer.from('kms-envelope/v1/key-commitment', 'ascii'), 32),
  )
}

/** NIST SP 800-38B subkey doubling. */
function double(b: Buffer): Buffer {
  const out = Buffer.alloc(16)
  for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff
  if (b[0]! & 0x80) out[15]! ^= 0x87
  return out
}

/** AES-256-CMAC (NIST SP 800-38B) of any message. */
export function refCmac(key: Buffer, message: Buffer): Buffer {
  const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
  const k1 = double(ecb.update(Buffer.alloc(16)))
  const k2 = double(k1)
  const complete = message.length > 0 && message.length % 16 === 0
  const padded = complete
    ? Buffer.from(message)
    : Buffer.concat([message, Buffer.from([0x80]), Buffer.alloc(15 - (message.length % 16))])
  const last = padded.length - 16
  for (let i = 0; i < 16; i++) padded[last + i]! ^= (complete ? k1 : k2)[i]!
  const cbc = createCipheriv('aes-256-cbc', key, Buffer.alloc(16)).setAutoPadding(false)
  return cbc.update(padded).subarray(last, last + 16)
}

/** KX = HKDF(DK, salt S, info "kms-envelope/v1/message-kdf-key"); K = CMAC(KX, 00 01 'X' 00 || N) || CMAC(KX, 00 02 'X' 00 || N). */
export function refMessageKey(dataKey: Buffer, nonce: Buffer): Buffer {
  const kx = Buffer.from(
    hkdfSync('sha256', dataKey, SALT, Buffer.from('kms-envelope/v1/message-kdf-key', 'ascii'), 32),
  )
  const block = (i: number) => Buffer.concat([Buffer.from([0x00, i, 0x58, 0x00]), nonce])
  return Buffer.concat([refCmac(kx, block(1)), refCmac(kx, block(2))])
}

function iv(nonce: Buffer, seq: number): Buffer {
  const out = Buffer.from(nonce)
  out.writeUInt32BE((out.readUInt32BE(8) ^ seq) >>> 0, 8)
  return out
}

function suffix(seq: number, final: boolean): Buffer {
  const b = Buffer.alloc(5)
  b.writeUInt32BE(seq, 0)
  b[4] = final ? 1 : 0
  return b
}

/** The context field: count, then length-prefixed key and value per pair, sorted by key bytes. */
export function refContextBlock(context: Record<string, string>): Buffer {
  const pairs = Object.entries(context)
    .map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const)
    .sort((a, b) => Buffer.compare(a[0], b[0]))
  return Buffer.concat([varint(pairs.length), ...pairs.flatMap(([k, v]) => [lp(k), lp(v)])])
}

export function refHeader(input: RefInput): Buffer {
  const dataKey = Buffer.from(input.dataKeyHex, 'hex')
  if (input.compact) {
    return Buffer.concat([
      Buffer.from([1, 2, 3]),
      lp(Buffer.from(input.edks[0]!.blobHex, 'hex')),
      refCommitment(dataKey),
      Buffer.from(input.nonceHex, 'hex'),
    ])
  }
  const framed = input.frameLength > 0
  const parts: Buffer[] = [Buffer.from([1, 2, framed ? 2 : 1])]
  if (framed) {
    const fl = Buffer.alloc(4)
    fl.writeUInt32BE(input.frameLength)
    parts.push(fl)
  }
  parts.push(refContextBlock(input.context))
  parts.push(varint(input.edks.length))
  for (const e of input.edks) {
    parts.push(Buffer.from([e.type]), lp(Buffer.from(e.keyId, 'utf8')), lp(Buffer.from(e.blobHex, 'hex')))
  }
  parts.push(refCommitment(dataKey), Buffer.from(input.nonceHex, 'hex'))
  return Buffer.concat(parts)
}

function seal(key: Buffer, nonce: Buffer, aad: Buffer, seq: number, final: boolean, pt: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv(nonce, seq))
  c.setAAD(Buffer.concat([aad, suffix(seq, final)]))
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()])
}

/** Encrypt per the spec. */
export function refEncrypt(input: RefInput): Buffer {
  const dataKey = Buffer.from(input.dataKeyHex, 'hex')
  const nonce = Buffer.from(input.nonceHex, 'hex')
  const header = refHeader(input)
  const key = refMessageKey(dataKey, nonce)
  const pt = Buffer.from(input.plaintextHex, 'hex')
  // Compact: the additional data is the header followed by the (unstored) context field.
  if (input.compact) {
    const aad = Buffer.concat([header, refContextBlock(input.context)])
    return Buffer.concat([header, seal(key, nonce, aad, 0, true, pt)])
  }
  if (input.frameLength === 0) return Buffer.concat([header, seal(key, nonce, header, 0, true, pt)])
  const out: Buffer[] = [header]
  let seq = 0
  let o = 0
  while (pt.length - o >= input.frameLength) {
    out.push(Buffer.from([0]), seal(key, nonce, header, seq++, false, pt.subarray(o, o + input.frameLength)))
    o += input.frameLength
  }
  const last = pt.subarray(o)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(last.length)
  out.push(Buffer.from([1]), len, seal(key, nonce, header, seq, true, last))
  return Buffer.concat(out)
}

/** Decrypt a single (non-framed) or compact message per the spec, given its header length (and context, compact). */
export function refDecryptSingle(
  dataKey: Buffer,
  message: Buffer,
  headerLength: number,
  compactContext?: Record<string, string>,
): Buffer {
  const header = message.subarray(0, headerLength)
  const nonce = header.subarray(headerLength - 12)
  const key = refMessageKey(dataKey, nonce)
  const d = createDecipheriv('aes-256-gcm', key, nonce)
  const context = compactContext ? refContextBlock(compactContext) : Buffer.alloc(0)
  d.setAAD(Buffer.concat([header, context, suffix(0, true)]))
  d.setAuthTag(message.subarray(message.length - 16))
  return Buffer.concat([d.update(message.subarray(headerLength, message.length - 16)), d.final()])
}
