/** Cosine similarity of face vectors, reported on Rekognition's 0–100 scale. */
import { ConfigurationError } from '@kms-envelope/core'

/**
 * Cosine similarity of two equal-length vectors as a percentage: `max(0, cos θ) × 100`.
 *
 * @example
 * ```ts
 * import { similarity } from '@kms-envelope/vision'
 * similarity(new Float32Array([1, 0]), new Float32Array([1, 0])) // 100
 * similarity(new Float32Array([1, 0]), new Float32Array([0, 1])) // 0
 * ```
 */
export function similarity(a: Float32Array, b: Float32Array): number {
  // Precondition: same dimension.
  if (a.length !== b.length) {
    throw new ConfigurationError(
      `Vectors of length ${a.length} and ${b.length} cannot be compared.`,
      "Use the collection's dimension.",
    )
  }
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  if (na === 0 || nb === 0) return 0
  const cos = dot / Math.sqrt(na * nb)
  return Math.min(100, Math.max(0, cos) * 100)
}

/** @internal A usable face vector: the expected length, finite values, not all zero. */
export function assertFaceVector(vector: Float32Array, dimension: number): Float32Array {
  // Precondition: a Float32Array of the collection's dimension with finite, not all-zero values.
  if (!(vector instanceof Float32Array) || vector.length !== dimension) {
    throw new ConfigurationError(
      `A face vector must be a Float32Array of length ${dimension}.`,
      "Pass the face model's embedding (the collection's dimension is fixed at creation).",
    )
  }
  let norm = 0
  for (const x of vector) {
    if (!Number.isFinite(x)) {
      throw new ConfigurationError('The face vector holds NaN or Infinity.', 'Pass a finite embedding.')
    }
    norm += x * x
  }
  if (norm === 0) {
    throw new ConfigurationError('The face vector is all zeros.', 'Pass a real embedding.')
  }
  return vector
}
