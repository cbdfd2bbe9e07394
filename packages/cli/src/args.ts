/** Command-line parsing over `node:util` parseArgs: strict options, repeatable `k=v` pairs. */
import { parseArgs } from 'node:util'
import type { EncryptionContext } from '@kms-envelope/core'
import { UsageError } from './errors.js'

/** One option as parseArgs describes it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly multiple?: boolean
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>

/** Options every command accepts. */
const GLOBAL_OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs

export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>

/** @internal Parse `args` strictly against `options` (plus the global ones). Unknown options are usage errors. */
export function parseStrict(
  args: readonly string[],
  options: OptionSpecs,
): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...GLOBAL_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
    })
    return { values: values as Values, positionals }
  } catch (err) {
    // parseArgs errors (ERR_PARSE_ARGS_*) say exactly what is wrong; keep the text, drop the Node noise.
    const text = err instanceof Error ? err.message.split('\n')[0]! : String(err)
    throw new UsageError(text.replace(/\. To specify .*$/, '.'))
  }
}

/**
 * @internal Split the command off the argument list: the first positional token (global options may come
 * before it). Returns the command and the remaining arguments.
 */
export function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const { tokens } = parseArgs({
    args: [...argv],
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  for (const token of tokens ?? []) {
    if (token.kind === 'option-terminator') break
    if (token.kind === 'positional') {
      const rest = [...argv]
      rest.splice(token.index, 1)
      return { command: token.value, rest }
    }
  }
  return { command: undefined, rest: [...argv] }
}

/** @internal A string option (the last one when repeated), or undefined. */
export function str(values: Values, name: string): string | undefined {
  const v = values[name]
  if (v === undefined) return undefined
  // Precondition: string options have a non-empty value.
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} needs a value.`)
  return v
}

/** @internal A repeatable string option as a list (empty when absent). */
export function list(values: Values, name: string): string[] {
  const v = values[name]
  if (v === undefined) return []
  const items = Array.isArray(v) ? v : [v]
  for (const item of items) {
    if (typeof item !== 'string' || item.length === 0) throw new UsageError(`--${name} needs a value.`)
  }
  return items as string[]
}

/** @internal A boolean flag. */
export function flag(values: Values, name: string): boolean {
  return values[name] === true
}

/**
 * Parse repeated `k=v` pairs into an encryption context. The value is everything after the first `=` (it
 * may contain `=`). A key given twice is an error (which value was meant?).
 *
 * @example
 * ```ts
 * import { parsePairs } from '@kms-envelope/cli'
 * parsePairs(['tenant=acme', 'purpose=backup'], '--context') // { tenant: 'acme', purpose: 'backup' }
 * ```
 */
export function parsePairs(pairs: readonly string[], option: string): EncryptionContext {
  const out: Record<string, string> = Object.create(null)
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    // Precondition: k=v with a non-empty key.
    if (eq <= 0)
      throw new UsageError(`${option} expects key=value, got "${pair}".`, `Write ${option} tenant=acme.`)
    const key = pair.slice(0, eq)
    // Precondition: each key once.
    if (Object.hasOwn(out, key)) {
      throw new UsageError(`${option} gives "${key}" twice.`, 'Give each key once.')
    }
    out[key] = pair.slice(eq + 1)
  }
  return { ...out }
}
