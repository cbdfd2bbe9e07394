import { randomBytes } from 'node:crypto'
import { fail } from './errors.js'
import type { Input } from './wire.js'

const PREFIX = 'lkms1.'

/** A new opaque grant token naming its grant. Internal. */
export function newGrantToken(grantId: string): string {
  return `${PREFIX}${Buffer.from(`${grantId}.${randomBytes(24).toString('base64url')}`).toString('base64url')}`
}

/** Validate a GrantTokens member: at most 10 tokens this engine issued. Internal. */
export function readGrantTokens(input: Input): string[] | undefined {
  const v = input.GrantTokens
  if (v === undefined || v === null) return undefined
  // Precondition: a list of at most 10 strings.
  if (!Array.isArray(v) || v.length > 10)
    throw fail.validation('GrantTokens must be a list of at most 10 grant tokens.')
  for (const t of v) {
    // Precondition: each token has the engine's token format.
    if (typeof t !== 'string' || t.length > 8192 || !t.startsWith(PREFIX)) throw fail.invalidGrantToken()
  }
  return v as string[]
}
