import { fail } from './errors.js'

/**
 * Readers for wire-shaped JSON input (KMS JSON 1.1: blobs are base64 strings, timestamps epoch seconds).
 * Each throws `ValidationException` with an AWS-style message. Internal.
 */
export type Input = Record<string, unknown>

const missing = (field: string) =>
  fail.validation(
    `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
  )

export function reqString(input: Input, field: string, max = 2048): string {
  const v = input[field]
  // Precondition: a required string member is present and a non-empty string.
  if (v === undefined || v === null) throw missing(field)
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw fail.validation(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between 1 and ${max}`,
    )
  }
  return v
}

export function optString(input: Input, field: string, max = 2048): string | undefined {
  if (input[field] === undefined || input[field] === null) return undefined
  return reqString(input, field, max)
}

export function optInt(input: Input, field: string, min: number, max: number): number | undefined {
  const v = input[field]
  if (v === undefined || v === null) return undefined
  // Precondition: an integer member within its bounds.
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fail.validation(
      `1 validation error detected: Value '${String(v)}' at '${field}' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    )
  }
  return v
}

export function optBool(input: Input, field: string): boolean | undefined {
  const v = input[field]
  if (v === undefined || v === null) return undefined
  // Precondition: a boolean member is a JSON boolean.
  if (typeof v !== 'boolean') throw fail.validation(`${field} must be a boolean.`)
  return v
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

export function reqBlob(input: Input, field: string, min: number, max: number): Buffer {
  const v = input[field]
  if (v === undefined || v === null) throw missing(field)
  // Precondition: a blob is a base64 string.
  if (typeof v !== 'string' || v.length % 4 !== 0 || !B64.test(v))
    throw fail.validation(`${field} must be base64-encoded.`)
  const buf = Buffer.from(v, 'base64')
  // Precondition: the decoded length is within the operation's bounds.
  if (buf.length < min || buf.length > max) {
    throw fail.validation(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between ${min} and ${max}`,
    )
  }
  return buf
}

export function optStringList(input: Input, field: string, maxItems = 100): string[] | undefined {
  const v = input[field]
  if (v === undefined || v === null) return undefined
  // Precondition: a list member is an array of non-empty strings.
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string' && x.length > 0)) {
    throw fail.validation(`${field} must be a list of at most ${maxItems} non-empty strings.`)
  }
  return v as string[]
}

/** Epoch milliseconds to the wire's epoch seconds. */
export const toWireTime = (ms: number): number => ms / 1000

/** Opaque pagination marker (offset). */
export function readMarker(input: Input): number {
  const m = optString(input, 'Marker', 1024)
  if (m === undefined) return 0
  const n = Number(Buffer.from(m, 'base64url').toString('utf8'))
  // Precondition: a marker the engine issued.
  if (!Number.isInteger(n) || n < 0) throw fail.invalidMarker()
  return n
}

/** Slice a list for Limit/Marker pagination and return the wire fields. */
export function paginate<T>(
  items: T[],
  input: Input,
  defaultLimit = 100,
): { page: T[]; Truncated: boolean; NextMarker?: string } {
  const limit = optInt(input, 'Limit', 1, 1000) ?? defaultLimit
  const offset = readMarker(input)
  const page = items.slice(offset, offset + limit)
  const next = offset + limit
  if (next < items.length)
    return { page, Truncated: true, NextMarker: Buffer.from(String(next)).toString('base64url') }
  return { page, Truncated: false }
}
