/** `kms-envelope encrypt`: stream a file or stdin into one framed message under a KMS key. */
import { Envelope, KmsKeyring } from '@kms-envelope/core'
import { flag, list, type OptionSpecs, parsePairs, parseStrict, str } from '../args.js'
import type { CommandContext } from '../context.js'
import { UsageError } from '../errors.js'
import { openInputOutput } from '../files.js'
import { println } from '../io.js'
import { describeTarget, kmsClients, kmsSettings } from '../kms.js'
import { printable } from '../printable.js'
import { transfer } from '../transfer.js'

const ENCRYPT_OPTIONS = {
  key: { type: 'string', short: 'k', multiple: true },
  context: { type: 'string', short: 'c', multiple: true },
  in: { type: 'string', short: 'i' },
  out: { type: 'string', short: 'o' },
  force: { type: 'boolean', short: 'f' },
  progress: { type: 'boolean' },
  'grant-token': { type: 'string', multiple: true },
} as const satisfies OptionSpecs

export const ENCRYPT_HELP = `Usage: kms-envelope encrypt --key <key> [--key <key> ...] [--context k=v ...] [--in <file>|-] [--out <file>|-]

Encrypt a file or stdin into one framed kms-envelope message (streaming: memory stays one frame).

  -k, --key <key>         KMS key ARN, alias ARN, alias/<name> or key id. The first generates the data
                          key; each further --key wraps a copy (multi-Region / DR). Required.
  -c, --context <k=v>     Encryption context pair, repeatable. Bound to the ciphertext and to the KMS
                          call (visible in CloudTrail): use it, e.g. tenant=acme purpose=backup.
  -i, --in <file>         Input file; - or absent: stdin.
  -o, --out <file>        Output file; - or absent: stdout (refused when stdout is a terminal).
                          Written to a temp file and renamed on success; never overwrites without --force.
  -f, --force             Replace an existing --out.
      --progress          Progress on stderr (default: when stderr is a terminal and the input is large).
      --grant-token <t>   KMS grant token, repeatable.
      --profile <name>    Shared config/credentials profile (default: AWS_PROFILE).
      --region <region>   AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, or
                          the key ARN's Region).
      --endpoint <url>    KMS endpoint, https:// (or http:// on localhost only). Default:
                          AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS's.
  -v, --verbose           Report what was done on stderr; show error causes.
  -h, --help              This help.
`

/** @internal Run `encrypt`. */
export async function encrypt(ctx: CommandContext, args: readonly string[]): Promise<void> {
  const { values, positionals } = parseStrict(args, ENCRYPT_OPTIONS)
  if (flag(values, 'help')) {
    ctx.stdout.write(ENCRYPT_HELP)
    return
  }
  // Precondition: no stray arguments (a forgotten --in is a common slip).
  if (positionals.length > 0)
    throw new UsageError(`Unexpected argument "${positionals[0]}".`, 'Pass the input with --in.')
  const keys = list(values, 'key')
  // Precondition: at least one key (never a default key: the caller decides who can decrypt).
  if (keys.length === 0) throw new UsageError('encrypt needs --key.', 'Pass --key <key ARN or alias/name>.')
  const context = parsePairs(list(values, 'context'), '--context')
  const outSpec = str(values, 'out')
  // Precondition: binary ciphertext does not go to a terminal unless asked for with --out -.
  if (outSpec === undefined && ctx.stdout.isTTY) {
    throw new UsageError(
      'Refusing to write binary ciphertext to a terminal.',
      'Pass --out <file>, or redirect stdout.',
    )
  }
  const grantTokens = list(values, 'grant-token')
  const { client, clients, ...target } = await kmsClients(kmsSettings(values, ctx.env), keys)
  if (flag(values, 'verbose')) println(ctx.stderr, printable(describeTarget(target)))
  const [generatorKeyId, ...additionalKeyIds] = keys as [string, ...string[]]
  const keyring = new KmsKeyring({ client, clients, generatorKeyId, additionalKeyIds, grantTokens })

  // One message, one data key: no cache needed in a one-shot process. The stream checks the context now
  // (before any file is opened) and calls KMS only once data flows.
  const envelope = new Envelope({ keyring, cache: false })
  const stream = envelope.encryptStream({ context })

  const { input, output } = await openInputOutput(str(values, 'in'), ctx.stdin, {
    spec: outSpec,
    stdout: ctx.stdout,
    cwd: ctx.cwd,
    force: flag(values, 'force'),
    mode: 0o644,
  })
  await transfer(ctx, input, stream, output, { explicit: flag(values, 'progress'), label: 'encrypt' })
  if (flag(values, 'verbose')) {
    const calls = keyring.stats()
    println(
      ctx.stderr,
      `encrypted ${stream.plaintextBytes} bytes from ${input.name} to ${output.name} under ${keys.join(', ')}; context ${JSON.stringify(context)}; KMS calls: ${calls.generateDataKey} GenerateDataKey, ${calls.encrypt} Encrypt`,
    )
  }
}
