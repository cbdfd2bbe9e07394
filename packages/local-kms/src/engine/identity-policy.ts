import {
  type ConditionLookup,
  evaluateConditions,
  UnknownOperatorError,
  validateConditionBlock,
  wildcardMatch,
} from './conditions.js'

/**
 * One statement of an IAM identity-based policy (the policy attached to a user or role): Allow/Deny,
 * Action / NotAction with wildcards (`kms:*`, `kms:Generate*`), Resource / NotResource with wildcards
 * (key ARNs, alias ARNs, `*`) and a Condition block using the operators of conditions.ts. Identity
 * policies have no Principal: they apply to the identity they are attached to. Internal.
 */
export interface IdentityStatement {
  sid?: string
  effect: 'Allow' | 'Deny'
  actions?: string[]
  notActions?: string[]
  resources?: string[]
  notResources?: string[]
  condition?: Record<string, Record<string, unknown>>
}

/** A parsed identity policy, with the JSON it came from (what is persisted and returned). */
export interface IdentityPolicy {
  document: string
  statements: IdentityStatement[]
}

/**
 * Thrown by {@link parseIdentityPolicy} for a document IAM would refuse (`MalformedPolicyDocument`);
 * the message says why. The engine reports it as a LocalKmsError (seed or runtime API).
 *
 * @example
 * ```ts
 * try { parseIdentityPolicy('{}') } catch (err) { if (err instanceof MalformedIdentityPolicyError) console.error(err.message) }
 * ```
 */
export class MalformedIdentityPolicyError extends Error {}

const list = (v: unknown, what: string): string[] => {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[]
  throw new MalformedIdentityPolicyError(`${what} must be a string or a non-empty array of strings.`)
}

/**
 * Parse and validate an IAM identity policy (a JSON string or an object). Throws
 * {@link MalformedIdentityPolicyError} naming the faulty statement.
 *
 * @example
 * ```ts
 * const policy = parseIdentityPolicy({
 *   Version: '2012-10-17',
 *   Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: 'arn:aws:kms:*:111122223333:key/*' }],
 * })
 * ```
 */
export function parseIdentityPolicy(input: string | Record<string, unknown>): IdentityPolicy {
  let doc: unknown = input
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input)
    } catch {
      throw new MalformedIdentityPolicyError('The policy is not valid JSON.')
    }
  }
  // Precondition: a policy document is a JSON object with a Statement.
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new MalformedIdentityPolicyError('The policy must be a JSON object.')
  const document = typeof input === 'string' ? input : JSON.stringify(input)
  // Precondition: at most 10,240 characters, IAM's limit for an inline role policy.
  if (document.length > 10240) throw new MalformedIdentityPolicyError('The policy exceeds 10240 characters.')
  const raw = (doc as Record<string, unknown>).Statement
  const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]
  if (statements.length === 0) throw new MalformedIdentityPolicyError('The policy has no Statement.')
  const parsed = statements.map((s, i): IdentityStatement => {
    const at = `Statement ${i}`
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw new MalformedIdentityPolicyError(`${at} must be an object.`)
    const st = s as Record<string, unknown>
    // Precondition: Effect is Allow or Deny.
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw new MalformedIdentityPolicyError(`${at}: Effect must be Allow or Deny.`)
    // Precondition: an identity policy names no principal (it applies to its holder).
    if (st.Principal !== undefined || st.NotPrincipal !== undefined)
      throw new MalformedIdentityPolicyError(`${at}: an identity-based policy cannot have a Principal.`)
    // Precondition: exactly one of Action / NotAction, and one of Resource / NotResource.
    if ((st.Action === undefined) === (st.NotAction === undefined))
      throw new MalformedIdentityPolicyError(`${at}: exactly one of Action or NotAction is required.`)
    if ((st.Resource === undefined) === (st.NotResource === undefined))
      throw new MalformedIdentityPolicyError(`${at}: exactly one of Resource or NotResource is required.`)
    if (st.Condition !== undefined) {
      try {
        validateConditionBlock(st.Condition)
      } catch (err) {
        if (err instanceof UnknownOperatorError)
          throw new MalformedIdentityPolicyError(`${at}: ${err.message}`)
        throw err
      }
    }
    const out: IdentityStatement = { effect: st.Effect }
    if (typeof st.Sid === 'string') out.sid = st.Sid
    if (st.Action !== undefined) out.actions = list(st.Action, `${at}: Action`)
    if (st.NotAction !== undefined) out.notActions = list(st.NotAction, `${at}: NotAction`)
    if (st.Resource !== undefined) out.resources = list(st.Resource, `${at}: Resource`)
    if (st.NotResource !== undefined) out.notResources = list(st.NotResource, `${at}: NotResource`)
    if (st.Condition !== undefined) out.condition = st.Condition as Record<string, Record<string, unknown>>
    return out
  })
  return { document, statements: parsed }
}

/** What an identity policy is evaluated against: `kms:<Action>`, the resource ARN (or `*`), conditions. */
export interface IdentityRequest {
  action: string
  resource: string
  lookup: ConditionLookup
}

/**
 * Evaluate identity policies: `deny` when a matching statement denies, `allow` when one allows and none
 * denies, else `none` (an implicit deny). Actions match case-insensitively, resources case-sensitively,
 * both with `*` / `?` wildcards, as IAM does.
 *
 * @example
 * ```ts
 * const verdict = evaluateIdentityPolicies([policy], { action: 'kms:Decrypt', resource: keyArn, lookup: () => undefined })
 * ```
 */
export function evaluateIdentityPolicies(
  policies: Iterable<IdentityPolicy>,
  req: IdentityRequest,
): 'allow' | 'deny' | 'none' {
  let allowed = false
  for (const policy of policies) {
    for (const st of policy.statements) {
      if (st.actions && !st.actions.some((a) => wildcardMatch(a, req.action, true))) continue
      if (st.notActions?.some((a) => wildcardMatch(a, req.action, true))) continue
      if (st.resources && !st.resources.some((r) => wildcardMatch(r, req.resource))) continue
      if (st.notResources?.some((r) => wildcardMatch(r, req.resource))) continue
      if (st.condition && !evaluateConditions(st.condition, req.lookup)) continue
      if (st.effect === 'Deny') return 'deny'
      allowed = true
    }
  }
  return allowed ? 'allow' : 'none'
}
