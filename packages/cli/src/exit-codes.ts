/** Exit codes of `kms-envelope`: one per class of failure, stable across versions. */

/**
 * Exit codes. Scripts may switch on them; the README lists which error codes map to each.
 *
 * @example
 * ```ts
 * import { ExitCode, run } from '@kms-envelope/cli'
 * const code = await run(['inspect', '--in', 'x.kenv'], io)
 * if (code === ExitCode.Integrity) console.error('do not trust this file')
 * ```
 */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** An unexpected error (a bug, or an error that is not a kms-envelope error). */
  Internal: 1,
  /** Bad command line (ERR_USAGE). */
  Usage: 2,
  /** Unsafe or inconsistent configuration: insecure endpoint, no region, invalid context, limits. */
  Configuration: 3,
  /** Input or output file problem (ERR_IO, ERR_OUTPUT_EXISTS). */
  Io: 4,
  /** The ciphertext failed authentication or is incomplete (ERR_TAMPERED, ERR_TRUNCATED). */
  Integrity: 5,
  /** Not a kms-envelope message, or a format this version cannot read. */
  Format: 6,
  /** The message's encryption context lacks an --expect pair (ERR_CONTEXT_MISMATCH). */
  ContextMismatch: 7,
  /** The KMS key cannot be used: access denied, not found, disabled, wrong type, not allowed, destroyed. */
  Key: 8,
  /** KMS failed, throttled, or answered nonsense. Usually transient. */
  Kms: 9,
  /** The scope-key store failed, is locked or holds a corrupt record (ERR_KEY_STORE). */
  KeyStore: 10,
  /** Interrupted by SIGINT/SIGTERM (128 + 2). */
  Interrupted: 130,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

const BY_CODE: Readonly<Record<string, ExitCode>> = {
  ERR_USAGE: ExitCode.Usage,
  ERR_CONFIGURATION: ExitCode.Configuration,
  ERR_INVALID_CONTEXT: ExitCode.Configuration,
  ERR_LIMIT_EXCEEDED: ExitCode.Configuration,
  ERR_IO: ExitCode.Io,
  ERR_OUTPUT_EXISTS: ExitCode.Io,
  ERR_TAMPERED: ExitCode.Integrity,
  ERR_TRUNCATED: ExitCode.Integrity,
  ERR_MALFORMED: ExitCode.Format,
  ERR_UNSUPPORTED_FORMAT: ExitCode.Format,
  ERR_CONTEXT_MISMATCH: ExitCode.ContextMismatch,
  ERR_KEY_ACCESS_DENIED: ExitCode.Key,
  ERR_KEY_NOT_FOUND: ExitCode.Key,
  ERR_KEY_DISABLED: ExitCode.Key,
  ERR_INVALID_KEY: ExitCode.Key,
  ERR_KEY_DESTROYED: ExitCode.Key,
  ERR_KMS_UNAVAILABLE: ExitCode.Kms,
  ERR_KMS_THROTTLED: ExitCode.Kms,
  ERR_KMS_RESPONSE: ExitCode.Kms,
  ERR_KEYRING: ExitCode.Kms,
  ERR_KEY_STORE: ExitCode.KeyStore,
  ERR_INTERRUPTED: ExitCode.Interrupted,
}

/**
 * The exit code for an error `code` (`ERR_…`); unknown codes give {@link ExitCode.Internal}.
 *
 * @example
 * ```ts
 * import { exitCodeFor } from '@kms-envelope/cli'
 * exitCodeFor('ERR_TAMPERED') // 5
 * ```
 */
export function exitCodeFor(code: string | undefined): ExitCode {
  // Own entries only: a code such as `constructor` is unknown, not Object's constructor.
  return (code !== undefined && Object.hasOwn(BY_CODE, code) && BY_CODE[code]) || ExitCode.Internal
}
