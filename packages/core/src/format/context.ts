import { InvalidEncryptionContextError } from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'
import { MAX_CONTEXT_BYTES, MAX_CONTEXT_PAIRS, RESERVED_CONTEXT_PREFIXES } from './constants.js'
import { varintLength, writeVarint } from './varint.js'

/** A context pair already encoded as UTF-8, in canonical order. */
export interface EncodedPair {
  readonly key: Buffer
  readonly value: Buffer
}

const EMPTY: EncryptionContext = Object.freeze({})

function utf8(s: string, what: string): Buffer {
  const bytes = Buffer.from(s, 'utf8')
  // Precondition: well-formed Unicode (a lone surrogate would not survive the UTF-8 round trip).
  if (bytes.toString('utf8') !== s)
    throw new InvalidEncryptionContextError(`${what} is not well-formed Unicode`)
  return bytes
}

/**
 * Validate an encryption context and put it in canonical form: pairs sorted by the UTF-8 bytes of the key.
 * `allowReserved` is for the library's own keys (e.g. the scope binding), never for user input.
 */
export function canonicalContext(
  context: EncryptionContext | undefined,
  allowReserved = false,
): { pairs: EncodedPair[]; context: EncryptionContext } {
  if (context === undefined) return { pairs: [], context: EMPTY }
  // Precondition: a plain object of strings.
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new InvalidEncryptionContextError('it must be an object of string keys and string values')
  }
  const keys = Object.keys(context)
  if (keys.length === 0) return { pairs: [], context: EMPTY }
  // Precondition: at most MAX_CONTEXT_PAIRS pairs.
  if (keys.length > MAX_CONTEXT_PAIRS) {
    throw new InvalidEncryptionContextError(`${keys.length} pairs, at most ${MAX_CONTEXT_PAIRS} are allowed`)
  }
  const pairs: EncodedPair[] = []
  let total = 0
  for (const key of keys) {
    const value = context[key]
    // Precondition: non-empty string keys, string values.
    if (key.length === 0) throw new InvalidEncryptionContextError('a key is empty')
    if (typeof value !== 'string')
      throw new InvalidEncryptionContextError(`the value of "${key}" is not a string`)
    // Precondition: reserved prefixes are the library's.
    if (!allowReserved && RESERVED_CONTEXT_PREFIXES.some((p) => key.startsWith(p))) {
      throw new InvalidEncryptionContextError(`"${key}" uses a reserved prefix`)
    }
    const k = utf8(key, `key "${key}"`)
    const v = utf8(value, `the value of "${key}"`)
    total += k.length + v.length
    pairs.push({ key: k, value: v })
  }
  // Precondition: at most MAX_CONTEXT_BYTES of keys and values.
  if (total > MAX_CONTEXT_BYTES) {
    throw new InvalidEncryptionContextError(`${total} bytes of keys and values, at most ${MAX_CONTEXT_BYTES}`)
  }
  pairs.sort((a, b) => Buffer.compare(a.key, b.key))
  const frozen: Record<string, string> = Object.create(null)
  for (const p of pairs) frozen[p.key.toString('utf8')] = p.value.toString('utf8')
  return { pairs, context: Object.freeze(frozen) }
}

/** A stable string naming a context (for cache partitions): canonical pairs, length-prefixed. */
export function contextId(pairs: readonly EncodedPair[]): string {
  let id = ''
  for (const p of pairs) {
    const k = p.key.toString('utf8')
    const v = p.value.toString('utf8')
    id += `${k.length}:${k}${v.length}:${v}`
  }
  return id
}

/**
 * The context field of a header: `varint count`, then per pair `varint key length`, key, `varint value
 * length`, value (docs/FORMAT.md, section 3). Compact messages authenticate it without storing it.
 */
export function encodeContextBlock(pairs: readonly EncodedPair[]): Buffer {
  let size = varintLength(pairs.length)
  for (const p of pairs)
    size += varintLength(p.key.length) + p.key.length + varintLength(p.value.length) + p.value.length
  const out = Buffer.allocUnsafe(size)
  let o = writeVarint(out, 0, pairs.length)
  for (const p of pairs) {
    o = writeVarint(out, o, p.key.length)
    o += p.key.copy(out, o)
    o = writeVarint(out, o, p.value.length)
    o += p.value.copy(out, o)
  }
  // Postcondition: the computed size was exact.
  if (o !== size) throw new Error('context block size mismatch (bug)')
  return out
}

/** A validated, canonical context with its cache-partition id and its encoded block. */
export interface CanonicalContext {
  readonly pairs: EncodedPair[]
  readonly context: EncryptionContext
  readonly id: string
  /** {@link encodeContextBlock} of the pairs. */
  readonly block: Buffer
}

const MAX_MEMO = 1024

/**
 * Validating and encoding a context costs more than encrypting a small message, and applications use a
 * handful of contexts over and over. This memo maps the context's pairs, in the caller's key order and
 * length-prefixed (so no two contexts share a memo key), to the canonical form computed once.
 */
export class ContextMemo {
  #memo = new Map<string, CanonicalContext>()

  canonical(context: EncryptionContext | undefined): CanonicalContext {
    if (context === undefined || context === null || typeof context !== 'object')
      return this.#compute(context, '')
    let key = ''
    for (const k of Object.keys(context)) {
      const v = context[k]
      // Anything unusual goes through full validation (which throws).
      if (typeof v !== 'string') return this.#compute(context, undefined)
      key += `${k.length}:${k}${v.length}:${v}`
    }
    return this.#memo.get(key) ?? this.#compute(context, key)
  }

  #compute(context: EncryptionContext | undefined, key: string | undefined): CanonicalContext {
    const { pairs, context: frozen } = canonicalContext(context)
    const result = { pairs, context: frozen, id: contextId(pairs), block: encodeContextBlock(pairs) }
    if (key !== undefined) {
      if (this.#memo.size >= MAX_MEMO) this.#memo.clear()
      this.#memo.set(key, result)
    }
    return result
  }
}
