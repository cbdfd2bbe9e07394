/** The programmatic entry point: `run(argv, io)` → exit code. The bin is a thin wrapper around it. */
import { KmsEnvelopeError } from '@kms-envelope/core'
import { splitCommand } from './args.js'
import { DECRYPT_HELP, decrypt } from './commands/decrypt.js'
import { ENCRYPT_HELP, encrypt } from './commands/encrypt.js'
import { INSPECT_HELP, inspect } from './commands/inspect.js'
import { SCOPE_HELP, scope } from './commands/scope.js'
import type { CommandContext } from './context.js'
import { UsageError } from './errors.js'
import { ExitCode, exitCodeFor } from './exit-codes.js'
import { type CliIo, println } from './io.js'
import { printable } from './printable.js'
import { VERSION } from './version.js'

/**
 * The top-level help text (`kms-envelope --help`), with the exit-code summary.
 *
 * @example
 * ```ts
 * import { MAIN_HELP } from '@kms-envelope/cli'
 * process.stdout.write(MAIN_HELP)
 * ```
 */
export const MAIN_HELP = `Usage: kms-envelope <command> [options]

Envelope encryption with AWS KMS for files and streams.

Commands:
  encrypt   Encrypt a file or stdin under a KMS key, with an encryption context.
  decrypt   Decrypt and authenticate a message (strict keys or discovery by account).
  inspect   Show a message's header (context, wrapping keys) without any key.
  scope     Administer scope keys in a FileKeyStore: list, versions, audit, rotate, destroy.

Global options:
      --profile <name>    Named profile of the shared config/credentials files (default: AWS_PROFILE).
      --region <region>   AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, or
                          the key ARN's Region).
      --endpoint <url>    KMS endpoint, https:// (or http:// on localhost only). Default:
                          AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS's.
  -v, --verbose           More detail on stderr, including the cause chain of errors.
  -h, --help              Help (also: kms-envelope <command> --help).
  -V, --version           Print the version.

Credentials: the profile's (--profile or AWS_PROFILE: static keys, SSO, role assumption, credential_process),
else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the AWS SDK default chain (the default profile, SSO,
container/instance roles). Files: AWS_CONFIG_FILE (~/.aws/config), AWS_SHARED_CREDENTIALS_FILE
(~/.aws/credentials).
Exit codes: 0 ok, 1 internal, 2 usage, 3 configuration, 4 file I/O, 5 tampered/truncated, 6 not a
message/unsupported format, 7 context mismatch, 8 key unusable (denied, not found, disabled, destroyed),
9 KMS unavailable/throttled, 10 key store, 130 interrupted.
`

const COMMANDS: Readonly<
  Record<string, { run: (ctx: CommandContext, args: readonly string[]) => Promise<void>; help: string }>
> = {
  encrypt: { run: encrypt, help: ENCRYPT_HELP },
  decrypt: { run: decrypt, help: DECRYPT_HELP },
  inspect: { run: inspect, help: INSPECT_HELP },
  scope: { run: scope, help: SCOPE_HELP },
}

/** The message of a KmsEnvelopeError without the remedy core appends to it. */
function bareMessage(err: KmsEnvelopeError): string {
  const { message, remedy } = err
  return remedy && message.endsWith(remedy) ? message.slice(0, -remedy.length).trimEnd() : message
}

function describe(err: unknown): string {
  if (err instanceof KmsEnvelopeError) return `${err.name} [${err.code}]: ${bareMessage(err)}`
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${err.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${err.message}`
  }
  return String(err)
}

/** @internal Print an error: `error [CODE]: message`, the remedy, and with --verbose the cause chain. */
function reportError(stderr: CliIo['stderr'], err: unknown, verbose: boolean): number {
  if (err instanceof KmsEnvelopeError) {
    println(stderr, printable(`error [${err.code}]: ${bareMessage(err)}`))
    if (err.remedy) println(stderr, printable(`  what to do: ${err.remedy}`))
    if (verbose) {
      const seen = new Set<unknown>([err])
      for (let cause = err.cause; cause !== undefined && !seen.has(cause); cause = (cause as Error)?.cause) {
        seen.add(cause)
        println(stderr, printable(`  cause: ${describe(cause)}`))
      }
    }
    return exitCodeFor(err.code)
  }
  println(stderr, printable(`error [ERR_INTERNAL]: ${err instanceof Error ? err.message : String(err)}`))
  println(stderr, '  what to do: this is unexpected; run again with --verbose and report it with the output.')
  if (verbose && err instanceof Error && err.stack) println(stderr, printable(err.stack))
  return ExitCode.Internal
}

/** The command of that name; own entries only, so `constructor` or `toString` name no command. */
function commandNamed(name: string): (typeof COMMANDS)[string] | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
}

/**
 * Run the CLI with `argv` (without `node` and the script path) against `io`; resolves to the exit code.
 * Never throws and never calls `process.exit`: errors are printed on `io.stderr` as
 * `error [ERR_CODE]: message` plus what to do, and mapped to an {@link ExitCode}.
 *
 * @example
 * ```ts
 * import { run } from '@kms-envelope/cli'
 * const code = await run(['encrypt', '--key', 'alias/backup', '--context', 'tenant=acme', '--in', 'db.dump', '--out', 'db.dump.kenv'], {
 *   stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env,
 * })
 * process.exitCode = code
 * ```
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v')
  try {
    const { command, rest } = splitCommand(argv)
    if (command === undefined) {
      if (rest.includes('--version') || rest.includes('-V')) {
        println(io.stdout, VERSION)
        return ExitCode.Ok
      }
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(MAIN_HELP)
        return ExitCode.Ok
      }
      io.stderr.write(MAIN_HELP)
      throw new UsageError('No command given.', 'Use one of: encrypt, decrypt, inspect, scope.')
    }
    if (command === 'help') {
      const topic = rest.find((a) => !a.startsWith('-'))
      io.stdout.write((topic !== undefined && commandNamed(topic)?.help) || MAIN_HELP)
      return ExitCode.Ok
    }
    const entry = commandNamed(command)
    if (!entry)
      throw new UsageError(`Unknown command "${command}".`, 'Use one of: encrypt, decrypt, inspect, scope.')
    await entry.run(
      {
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        env: io.env ?? process.env,
        cwd: io.cwd ?? process.cwd(),
        signal: io.signal,
      },
      rest,
    )
    return ExitCode.Ok
  } catch (err) {
    return reportError(io.stderr, err, verbose)
  }
}
