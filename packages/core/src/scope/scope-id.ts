import { ConfigurationError } from '../errors/errors.js'

/** Longest scope id, in UTF-8 bytes (it becomes a directory name and a DynamoDB key). */
export const MAX_SCOPE_ID_BYTES = 128

/**
 * Check a scope id: 1 to 128 UTF-8 bytes, no control characters, not starting with `#` (reserved by the
 * stores). Returns it unchanged.
 *
 * @example
 * ```ts
 * assertScopeId('connect-instance/1b2c3d') // ok
 * ```
 */
export function assertScopeId(scopeId: string): string {
  // Precondition: a non-empty string of at most 128 UTF-8 bytes.
  if (
    typeof scopeId !== 'string' ||
    scopeId.length === 0 ||
    Buffer.byteLength(scopeId) > MAX_SCOPE_ID_BYTES
  ) {
    throw new ConfigurationError(
      `Invalid scope id ${JSON.stringify(scopeId)}.`,
      `Use 1 to ${MAX_SCOPE_ID_BYTES} bytes, e.g. a customer or instance id.`,
    )
  }
  // Precondition: no control characters, no leading '#'.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(scopeId) || scopeId.startsWith('#')) {
    throw new ConfigurationError(
      `Invalid scope id ${JSON.stringify(scopeId)}: control characters and a leading "#" are not allowed.`,
      'Use printable characters, e.g. "customer-42" or "instance/1b2c3d".',
    )
  }
  return scopeId
}
