import { MalformedCiphertextError } from '../errors/errors.js'

/** Largest value a v1 varint may hold (4 bytes of LEB128). */
export const MAX_VARINT = 2 ** 28 - 1

/** Number of bytes {@link writeVarint} uses for `value`. */
export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : 4
}

/**
 * Write `value` as unsigned LEB128 at `offset`; returns the new offset.
 * Precondition: 0 <= value <= MAX_VARINT (the caller checks its own field limits first).
 */
export function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  out[offset++] = value
  return offset
}

/**
 * Read an unsigned LEB128 value of at most 4 bytes. Rejects overlong (non-canonical) encodings, so every
 * value has exactly one encoding and the header cannot be re-encoded without changing its bytes.
 */
export function readVarint(bytes: Uint8Array, offset: number, field: string): [value: number, next: number] {
  let value = 0
  for (let i = 0; i < 4; i++) {
    const byte = bytes[offset + i]
    // Precondition: the field is complete.
    if (byte === undefined) throw new MalformedCiphertextError(`header ends inside ${field}`)
    value |= (byte & 0x7f) << (7 * i)
    if ((byte & 0x80) === 0) {
      // Precondition: canonical encoding (no trailing zero groups).
      if (i > 0 && byte === 0) throw new MalformedCiphertextError(`${field} is not minimally encoded`)
      return [value, offset + i + 1]
    }
  }
  throw new MalformedCiphertextError(`${field} is longer than 4 bytes`)
}
