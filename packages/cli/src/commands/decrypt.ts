/** `kms-envelope decrypt`: authenticate and decrypt a message, strict (named keys) or discovery (accounts). */
import { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { Envelope, KmsKeyring } from '@kms-envelope/core'
import { flag, list, type OptionSpecs, parsePairs, parseStrict, str } from '../args.js'
import type { CommandContext } from '../context.js'
import { UsageError } from '../errors.js'
import { type Output, openInputOutput } from '../files.js'
import { println } from '../io.js'
import { describeTarget, kmsClients, kmsSettings } from '../kms.js'
import { printable } from '../printable.js'
import { transfer } from '../transfer.js'

const DECRYPT_OPTIONS = {
  key: { type: 'string', short: 'k', multiple: true },
  discovery: { type: 'boolean' },
  account: { type: 'string', multiple: true },
  partition: { type: 'string' },
  expect: { type: 'string', short: 'e', multiple: true },
  in: { type: 'string', short: 'i' },
  out: { type: 'string', short: 'o' },
  force: { type: 'boolean', short: 'f' },
  buffer: { type: 'boolean' },
  progress: { type: 'boolean' },
  'grant-token': { type: 'string', multiple: true },
} as const satisfies OptionSpecs

export const DECRYPT_HELP = `Usage: kms-envelope decrypt (--key <key> ... | --discovery --account <id> ...) [--expect k=v ...] [--in <file>|-] [--out <file>|-]

Decrypt and authenticate a kms-envelope message (streaming).

  -k, --key <key>         Strict mode: the KMS keys this message may be decrypted under (ARN, alias),
                          repeatable. Wrapped keys under any other key are never sent to KMS.
      --discovery         Discovery mode: any key of an --account (full key ARNs only).
      --account <id>      12-digit AWS account allowed in discovery mode, repeatable.
      --partition <p>     Discovery mode: the AWS partition of those accounts (default aws).
  -e, --expect <k=v>      The message's encryption context must contain this pair, repeatable. Checked
                          before any KMS call. Strongly recommended.
  -i, --in <file>         Input file; - or absent: stdin.
  -o, --out <file>        Output file (mode 0600); - or absent: stdout. Written to a temp file that is
                          renamed only after the whole message authenticated and deleted on any error.
  -f, --force             Replace an existing --out.
      --buffer            With stdout: hold all plaintext in memory and write it only after the whole
                          message authenticated (without it, each frame is written once it authenticated,
                          so a later failure leaves earlier, authentic but incomplete plaintext on stdout).
      --progress          Progress on stderr (default: when stderr is a terminal and the input is large).
      --grant-token <t>   KMS grant token, repeatable.
      --profile <name>    Shared config/credentials profile (default: AWS_PROFILE).
      --region <region>   AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, or
                          the key ARN's Region).
      --endpoint <url>    KMS endpoint, https:// (or http:// on localhost only). Default:
                          AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS's.
  -v, --verbose           Print the authenticated encryption context on stderr; show error causes.
  -h, --help              This help.
`

/** A Writable that keeps everything in memory until released. */
class Held extends Writable {
  readonly chunks: Buffer[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk)
    cb()
  }
  wipe(): void {
    for (const c of this.chunks) c.fill(0)
    this.chunks.length = 0
  }
}

/** @internal Run `decrypt`. */
export async function decrypt(ctx: CommandContext, args: readonly string[]): Promise<void> {
  const { values, positionals } = parseStrict(args, DECRYPT_OPTIONS)
  if (flag(values, 'help')) {
    ctx.stdout.write(DECRYPT_HELP)
    return
  }
  if (positionals.length > 0)
    throw new UsageError(`Unexpected argument "${positionals[0]}".`, 'Pass the input with --in.')
  const keys = list(values, 'key')
  const accounts = list(values, 'account')
  const discovery = flag(values, 'discovery')
  // Precondition: exactly one decrypt mode, each fully specified: never "any key at all".
  if (discovery && keys.length > 0)
    throw new UsageError('Use either --key (strict) or --discovery, not both.')
  const partition = str(values, 'partition')
  if (!discovery && (accounts.length > 0 || partition !== undefined)) {
    throw new UsageError('--account and --partition only apply with --discovery.')
  }
  if (discovery && accounts.length === 0) {
    throw new UsageError(
      '--discovery needs --account.',
      'Name the AWS accounts whose keys you trust: --account 111122223333.',
    )
  }
  if (!discovery && keys.length === 0) {
    throw new UsageError(
      'decrypt needs --key (strict) or --discovery --account <id>.',
      'Name the KMS key(s) you trust with --key.',
    )
  }
  for (const account of accounts) {
    if (!/^\d{12}$/.test(account))
      throw new UsageError(`--account ${account} is not a 12-digit AWS account id.`)
  }
  const expectedContext = parsePairs(list(values, 'expect'), '--expect')
  const outSpec = str(values, 'out')
  const toStdout = outSpec === undefined || outSpec === '-'
  const buffer = flag(values, 'buffer')
  if (buffer && !toStdout)
    throw new UsageError('--buffer applies to stdout only (files are always published whole).')
  const grantTokens = list(values, 'grant-token')

  const { client, clients, ...target } = await kmsClients(kmsSettings(values, ctx.env), keys)
  if (flag(values, 'verbose')) println(ctx.stderr, printable(describeTarget(target)))
  const keyring = new KmsKeyring({
    client,
    clients,
    grantTokens,
    decrypt: discovery
      ? { mode: 'discovery', accounts, ...(partition === undefined ? {} : { partition }) }
      : { mode: 'strict', keyIds: keys },
  })

  // Created before any file is opened: whatever it refuses leaves nothing behind; KMS is called once data flows.
  const envelope = new Envelope({ keyring, cache: false })
  const stream = envelope.decryptStream({ expectedContext })

  const opened = await openInputOutput(str(values, 'in'), ctx.stdin, {
    spec: outSpec,
    stdout: ctx.stdout,
    cwd: ctx.cwd,
    force: flag(values, 'force'),
    mode: 0o600,
  })
  const input = opened.input
  let output: Output = opened.output
  const held = buffer ? new Held() : undefined
  if (held) {
    const target = output
    output = {
      stream: held,
      name: 'stdout',
      commit: async () => {
        // Not wiped here: stdout may still hold references until it flushed.
        for (const chunk of held.chunks) target.stream.write(chunk)
        held.chunks.length = 0
        target.stream.end()
        await finished(target.stream)
      },
      abort: async () => {
        held.wipe()
        await target.abort()
      },
    }
  }
  await transfer(ctx, input, stream, output, { explicit: flag(values, 'progress'), label: 'decrypt' })
  if (flag(values, 'verbose')) {
    const header = stream.header
    // The context comes from the file: JSON.stringify leaves C1 controls and bidi overrides in it.
    println(
      ctx.stderr,
      printable(
        `decrypted ${input.name} to ${output.name}; authenticated context ${JSON.stringify(header?.context ?? {})}; KMS calls: ${keyring.stats().decrypt} Decrypt`,
      ),
    )
  }
}
