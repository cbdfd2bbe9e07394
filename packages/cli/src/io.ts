import type { Readable, Writable } from 'node:stream'

/**
 * A stream that may be a terminal (process.stdin/stdout/stderr are). `encrypt` refuses to write ciphertext
 * to a terminal; progress is shown by default when stderr is one.
 *
 * @example
 * ```ts
 * import { PassThrough } from 'node:stream'
 * import type { MaybeTty } from '@kms-envelope/cli'
 * const fakeTerminal: PassThrough & MaybeTty = Object.assign(new PassThrough(), { isTTY: true })
 * ```
 */
export type MaybeTty = { readonly isTTY?: boolean }

/**
 * Where {@link run} reads and writes: the three standard streams, the environment (AWS_REGION,
 * AWS_ACCESS_KEY_ID, …), the working directory for relative paths, and an abort signal (SIGINT).
 *
 * @example
 * ```ts
 * import { PassThrough } from 'node:stream'
 * import { run, type CliIo } from '@kms-envelope/cli'
 * const io: CliIo = { stdin: process.stdin, stdout: new PassThrough(), stderr: new PassThrough(), env: { AWS_REGION: 'us-east-1' } }
 * await run(['--version'], io)
 * ```
 */
export interface CliIo {
  readonly stdin: Readable & MaybeTty
  readonly stdout: Writable & MaybeTty
  readonly stderr: Writable & MaybeTty
  /** Environment variables (default `process.env`). Credentials are taken from here when both keys are set. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Directory relative paths are resolved against (default `process.cwd()`). */
  readonly cwd?: string
  /** Aborts a running command; its output file is removed. */
  readonly signal?: AbortSignal
}

/** @internal Write a line (adds the newline). */
export function println(stream: Writable, line = ''): void {
  stream.write(`${line}\n`)
}
