/** `kms-envelope inspect`: show a message header without any key and without calling KMS. */
import { inspect as inspectHeader, type MessageInfo, TruncatedCiphertextError } from '@kms-envelope/core'
import { flag, type OptionSpecs, parseStrict, str } from '../args.js'
import type { CommandContext } from '../context.js'
import { UsageError } from '../errors.js'
import { type Input, openInput } from '../files.js'
import { println } from '../io.js'
import { printable } from '../printable.js'

const INSPECT_OPTIONS = {
  in: { type: 'string', short: 'i' },
  json: { type: 'boolean' },
} as const satisfies OptionSpecs

export const INSPECT_HELP = `Usage: kms-envelope inspect [--in <file>|-] [--json]

Show a message's header — format, encryption context, which KMS keys (or scope keys) wrap its data key —
without any key and without calling KMS. Reads only the header. Nothing shown is authenticated until the
message is decrypted.

  -i, --in <file>   Input file; - or absent: stdin.
      --json        One JSON object on stdout.
  -h, --help        This help.
`

/** @internal Read from `input` until the header parses (only the header is read). */
async function readMessageInfo(input: Input): Promise<MessageInfo> {
  const chunks: Buffer[] = []
  let last: unknown = new TruncatedCiphertextError('The input is empty.')
  for await (const chunk of input.stream) {
    chunks.push(chunk as Buffer)
    try {
      return inspectHeader(Buffer.concat(chunks))
    } catch (err) {
      // Postcondition of a partial header: keep reading; anything else is final.
      if (!(err instanceof TruncatedCiphertextError)) throw err
      last = err
    }
  }
  throw last
}

/** @internal Run `inspect`. */
export async function inspect(ctx: CommandContext, args: readonly string[]): Promise<void> {
  const { values, positionals } = parseStrict(args, INSPECT_OPTIONS)
  if (flag(values, 'help')) {
    ctx.stdout.write(INSPECT_HELP)
    return
  }
  if (positionals.length > 0)
    throw new UsageError(`Unexpected argument "${positionals[0]}".`, 'Pass the input with --in.')
  const input = await openInput(str(values, 'in'), ctx.stdin, ctx.cwd)
  let info: MessageInfo
  try {
    info = await readMessageInfo(input)
  } finally {
    await input.close()
  }
  if (flag(values, 'json')) {
    println(ctx.stdout, JSON.stringify({ ...info, authenticated: false }))
    return
  }
  const out = (label: string, value: string) => println(ctx.stdout, `${label.padEnd(12)}${printable(value)}`)
  out('format', `v${info.version}, ${info.suite}`)
  out('layout', info.framed ? `framed, ${info.frameLength} bytes per frame` : 'single (not framed)')
  out('header', `${info.headerLength} bytes`)
  const pairs = Object.entries(info.context)
  if (pairs.length === 0) out('context', '(none)')
  pairs.forEach(([k, v], i) => {
    out(i === 0 ? 'context' : '', `${k}=${v}`)
  })
  info.encryptedDataKeys.forEach((k, i) => {
    const what =
      k.type === 'aws-kms'
        ? `aws-kms ${k.keyId} (${k.blobLength}-byte blob)`
        : `scope-key ${k.keyId} version ${k.version ?? '?'}`
    out(i === 0 ? 'wrapped by' : '', what)
  })
  println(ctx.stdout, 'note        unauthenticated until decrypted; do not trust these values before that')
}
