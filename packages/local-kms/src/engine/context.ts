import { fail } from './errors.js'
import type { EncryptionContext } from './types.js'

/**
 * Validate a wire encryption context (object of string → string) and return it, or `{}` when absent.
 * Internal.
 */
export function readContext(value: unknown, field = 'EncryptionContext'): EncryptionContext {
  // Precondition: absent context is the empty context.
  if (value === undefined || value === null) return {}
  // Precondition: an encryption context is a JSON object of strings.
  if (typeof value !== 'object' || Array.isArray(value))
    throw fail.validation(`${field} must be a map of strings.`)
  const out: EncryptionContext = {}
  let size = 0
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // Precondition: every value is a string and every key non-empty.
    if (typeof v !== 'string' || k.length === 0)
      throw fail.validation(`${field} keys and values must be non-empty strings.`)
    // defineProperty: a key named __proto__ stays an ordinary pair.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
    size += Buffer.byteLength(k) + Buffer.byteLength(v)
  }
  // Precondition: AWS limits the encoded context to 8 KiB.
  if (size > 8192) throw fail.validation(`${field} exceeds 8192 bytes.`)
  return out
}

/**
 * Canonical bytes of an encryption context: pairs sorted by key, each key and value length-prefixed
 * (u16 big-endian) UTF-8. Two contexts are equal iff their canonical bytes are equal. Internal.
 */
export function canonicalContext(context: EncryptionContext): Buffer {
  const keys = Object.keys(context).sort()
  const parts: Buffer[] = []
  const count = Buffer.alloc(2)
  count.writeUInt16BE(keys.length)
  parts.push(count)
  for (const k of keys) {
    for (const s of [k, context[k] as string]) {
      const b = Buffer.from(s, 'utf8')
      const len = Buffer.alloc(2)
      len.writeUInt16BE(b.length)
      parts.push(len, b)
    }
  }
  return Buffer.concat(parts)
}

/** True when both contexts hold exactly the same pairs. Internal. */
export function contextEquals(a: EncryptionContext, b: EncryptionContext): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => Object.hasOwn(b, k) && b[k] === a[k])
}

/** True when every pair of `subset` is in `context`. Internal. */
export function contextContains(context: EncryptionContext, subset: EncryptionContext): boolean {
  return Object.entries(subset).every(([k, v]) => Object.hasOwn(context, k) && context[k] === v)
}
