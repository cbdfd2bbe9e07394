import {
  type ConditionLookup,
  evaluateConditions,
  UnknownOperatorError,
  validateConditionBlock,
  wildcardMatch,
} from './conditions.js'
import { fail } from './errors.js'
import type { CallerIdentity } from './types.js'

/**
 * The IAM policy subset KMS key policies use: Allow/Deny statements with Principal / NotPrincipal (AWS
 * ARNs, account ids, account root = delegation to the account's IAM policies, `*`, Service), Action / NotAction with
 * wildcards, Resource, and Condition blocks (see conditions.ts). Internal.
 */
export interface Statement {
  sid?: string
  effect: 'Allow' | 'Deny'
  principal?: PrincipalSpec
  notPrincipal?: PrincipalSpec
  actions?: string[]
  notActions?: string[]
  resources: string[]
  condition?: Record<string, Record<string, unknown>>
}

interface PrincipalSpec {
  any: boolean
  aws: string[]
  service: string[]
}

const list = (v: unknown, what: string): string[] => {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[]
  throw fail.malformedPolicy(`${what} must be a string or an array of strings.`)
}

function parsePrincipal(v: unknown): PrincipalSpec {
  if (v === '*') return { any: true, aws: [], service: [] }
  // Precondition: a Principal is `*` or an object of AWS / Service / Federated lists.
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw fail.malformedPolicy('Principal must be "*" or an object.')
  const o = v as Record<string, unknown>
  const aws = o.AWS === undefined ? [] : list(o.AWS, 'Principal.AWS')
  const service = o.Service === undefined ? [] : list(o.Service, 'Principal.Service')
  return { any: aws.includes('*'), aws, service }
}

/**
 * Parse and validate a key policy document. Throws `MalformedPolicyDocumentException` with the reason.
 */
export function parsePolicy(document: string): Statement[] {
  // Precondition: a policy is at most 32 KiB of JSON.
  if (document.length > 32768) throw fail.malformedPolicy('The key policy exceeds 32768 characters.')
  let doc: unknown
  try {
    doc = JSON.parse(document)
  } catch {
    throw fail.malformedPolicy('The key policy is not valid JSON.')
  }
  if (typeof doc !== 'object' || doc === null)
    throw fail.malformedPolicy('The key policy must be a JSON object.')
  const raw = (doc as Record<string, unknown>).Statement
  const statements = Array.isArray(raw) ? raw : raw === undefined ? undefined : [raw]
  // Precondition: at least one statement.
  if (!statements || statements.length === 0) throw fail.malformedPolicy('The key policy has no Statement.')
  return statements.map((s, i): Statement => {
    if (typeof s !== 'object' || s === null) throw fail.malformedPolicy(`Statement ${i} must be an object.`)
    const st = s as Record<string, unknown>
    // Precondition: Effect is Allow or Deny.
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny')
      throw fail.malformedPolicy(`Statement ${i}: Effect must be Allow or Deny.`)
    // Precondition: a key policy statement names its principal.
    if (st.Principal === undefined && st.NotPrincipal === undefined) {
      throw fail.malformedPolicy(`Statement ${i}: Principal is required in a key policy.`)
    }
    if (st.Action === undefined && st.NotAction === undefined)
      throw fail.malformedPolicy(`Statement ${i}: Action is required.`)
    if (st.Condition !== undefined) {
      try {
        validateConditionBlock(st.Condition)
      } catch (err) {
        if (err instanceof UnknownOperatorError) throw fail.malformedPolicy(`Statement ${i}: ${err.message}`)
        throw err
      }
    }
    const out: Statement = {
      effect: st.Effect,
      resources: st.Resource === undefined ? ['*'] : list(st.Resource, 'Resource'),
    }
    if (typeof st.Sid === 'string') out.sid = st.Sid
    if (st.Principal !== undefined) out.principal = parsePrincipal(st.Principal)
    if (st.NotPrincipal !== undefined) out.notPrincipal = parsePrincipal(st.NotPrincipal)
    if (st.Action !== undefined) out.actions = list(st.Action, 'Action')
    if (st.NotAction !== undefined) out.notActions = list(st.NotAction, 'NotAction')
    if (st.Condition !== undefined) out.condition = st.Condition as Record<string, Record<string, unknown>>
    return out
  })
}

const ARN_ACCOUNT = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/
const ROOT = /^arn:aws[a-z-]*:iam::(\d{12}):root$/
const ASSUMED = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/

/** The account id an IAM/STS principal ARN belongs to, if it is one. */
export function principalAccount(arn: string): string | undefined {
  if (/^\d{12}$/.test(arn)) return arn
  return ARN_ACCOUNT.exec(arn)?.[1]
}

/**
 * How a principal named in a policy or grant designates the caller: `direct` when it names the caller
 * itself (its ARN, the role of its assumed-role session, `*`), `account` when it names the caller's
 * account (`<id>` or `arn:aws:iam::<id>:root`) and so only delegates to the account's IAM policies;
 * `undefined` when it does not designate the caller.
 *
 * @example
 * ```ts
 * principalMatchKind('arn:aws:iam::111122223333:root', caller) // 'account' for a role of 111122223333
 * ```
 */
export function principalMatchKind(named: string, caller: CallerIdentity): 'direct' | 'account' | undefined {
  if (named === '*') return 'direct'
  if (named === caller.principalArn) return 'direct'
  if (/^\d{12}$/.test(named)) return named === caller.accountId ? 'account' : undefined
  const root = ROOT.exec(named)
  if (root) return root[1] === caller.accountId ? 'account' : undefined
  const session = ASSUMED.exec(caller.principalArn)
  if (
    session &&
    (named === `arn:aws:iam::${session[1]}:role/${session[2]}` ||
      (named.endsWith(`:role/${session[2]}`) && named.includes(`::${session[1]}:`)))
  )
    return 'direct'
  return undefined
}

/**
 * Does a principal named in a policy or grant designate the caller, directly or through its account
 * (see {@link principalMatchKind})?
 *
 * @example
 * ```ts
 * principalMatches('arn:aws:iam::444455556666:role/svc', caller) // true for that role and its sessions
 * ```
 */
export function principalMatches(named: string, caller: CallerIdentity): boolean {
  return principalMatchKind(named, caller) !== undefined
}

function principalSpecKind(spec: PrincipalSpec, caller: CallerIdentity): 'direct' | 'account' | undefined {
  if (spec.any) return 'direct'
  if (spec.service.includes(caller.principalArn)) return 'direct'
  let kind: 'account' | undefined
  for (const p of spec.aws) {
    const k = principalMatchKind(p, caller)
    if (k === 'direct') return 'direct'
    if (k === 'account') kind = 'account'
  }
  return kind
}

function principalSpecMatches(spec: PrincipalSpec, caller: CallerIdentity): boolean {
  return principalSpecKind(spec, caller) !== undefined
}

/** The request facts a policy is evaluated against. */
export interface PolicyRequest {
  action: string
  resource: string
  caller: CallerIdentity
  lookup: ConditionLookup
}

/**
 * The key-policy verdict: `deny` when a matching statement denies; `direct` when an Allow statement names
 * the caller itself; `account` when Allow statements name only the caller's account (delegation to IAM);
 * else `none`.
 *
 * @example
 * ```ts
 * const verdict = evaluateKeyPolicy(parsePolicy(key.policy), { action: 'kms:Decrypt', resource: key.arn, caller, lookup })
 * ```
 */
export function evaluateKeyPolicy(
  statements: Statement[],
  req: PolicyRequest,
): 'deny' | 'direct' | 'account' | 'none' {
  let verdict: 'direct' | 'account' | 'none' = 'none'
  for (const st of statements) {
    let kind: 'direct' | 'account' | undefined = 'direct'
    if (st.principal) {
      kind = principalSpecKind(st.principal, req.caller)
      if (!kind) continue
    }
    if (st.notPrincipal && principalSpecMatches(st.notPrincipal, req.caller)) continue
    if (st.actions && !st.actions.some((a) => wildcardMatch(a, req.action, true))) continue
    if (st.notActions?.some((a) => wildcardMatch(a, req.action, true))) continue
    if (!st.resources.some((r) => wildcardMatch(r, req.resource))) continue
    if (st.condition && !evaluateConditions(st.condition, req.lookup)) continue
    if (st.effect === 'Deny') return 'deny'
    if (kind === 'direct' || verdict === 'none') verdict = kind
  }
  return verdict
}

/** `deny` when any matching statement denies, `allow` when one allows and none denies, else `none`. */
export function evaluatePolicy(statements: Statement[], req: PolicyRequest): 'allow' | 'deny' | 'none' {
  const verdict = evaluateKeyPolicy(statements, req)
  return verdict === 'direct' || verdict === 'account' ? 'allow' : verdict
}

/** The default key policy: the key's account root may do everything. */
export function defaultPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  })
}
