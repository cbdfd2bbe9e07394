/**
 * The CLI's own errors (everything else is one of core's typed errors). Each has a stable `code` and a
 * remedy, like core's.
 */
import { KmsEnvelopeError } from '@kms-envelope/core'

/**
 * The command line is wrong: unknown command or option, a missing value, a malformed `k=v` pair.
 *
 * @example
 * ```ts
 * import { UsageError } from '@kms-envelope/cli'
 * throw new UsageError('--context expects k=v, got "tenant"', 'Write --context tenant=acme.')
 * ```
 */
export class UsageError extends KmsEnvelopeError {
  constructor(detail: string, remedy = 'Run `kms-envelope <command> --help` for the options.') {
    super('ERR_USAGE', detail, remedy)
  }
}

/**
 * `--out` names a file that exists and `--force` was not given. Checked before any KMS call and again,
 * atomically, when the finished output is moved into place.
 *
 * @example
 * ```ts
 * import { OutputExistsError } from '@kms-envelope/cli'
 * const err = new OutputExistsError('secret.txt.kenv')
 * err.code // 'ERR_OUTPUT_EXISTS'
 * ```
 */
export class OutputExistsError extends KmsEnvelopeError {
  readonly path: string
  constructor(path: string) {
    super(
      'ERR_OUTPUT_EXISTS',
      `The output file ${path} already exists.`,
      'Choose another --out, remove the file, or pass --force to replace it.',
    )
    this.path = path
  }
}

/**
 * Reading the input or writing the output failed (missing file, permission, disk full, closed pipe).
 *
 * @example
 * ```ts
 * import { FileAccessError } from '@kms-envelope/cli'
 * const err = new FileAccessError('read', 'missing.txt', Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))
 * err.code // 'ERR_IO'
 * ```
 */
export class FileAccessError extends KmsEnvelopeError {
  readonly path: string
  constructor(action: 'read' | 'write', path: string, cause: unknown) {
    const sys = (cause as { code?: unknown })?.code
    const reason = typeof sys === 'string' ? sys : 'I/O error'
    super(
      'ERR_IO',
      `Cannot ${action} ${path} (${reason}).`,
      reason === 'EPIPE'
        ? 'The reader of the output closed it early (e.g. `| head`): what it got is incomplete.'
        : action === 'read'
          ? 'Check that the file exists and is readable.'
          : 'Check that the directory exists, is writable and has free space.',
      { cause },
    )
    this.path = path
  }
}

/**
 * The operation was interrupted (SIGINT/SIGTERM): no output file was left behind.
 *
 * @example
 * ```ts
 * import { InterruptedError } from '@kms-envelope/cli'
 * new InterruptedError().code // 'ERR_INTERRUPTED'
 * ```
 */
export class InterruptedError extends KmsEnvelopeError {
  constructor(options?: { cause?: unknown }) {
    super('ERR_INTERRUPTED', 'Interrupted.', 'Nothing was written to --out; run the command again.', options)
  }
}
