import type { ConditionLookup } from './conditions.js'
import { evaluateIdentityPolicies, type IdentityPolicy } from './identity-policy.js'
import type { EngineState } from './state.js'
import type { CallerIdentity } from './types.js'

const ROOT = /^arn:aws[a-z-]*:iam::\d{12}:root$/
const HOLDER = /^arn:aws[a-z-]*:iam::\d{12}:(?:user|role)\/.+$/
const SESSION = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/

/**
 * Can this ARN carry IAM identity policies? Only IAM users and roles can (the account root user and
 * assumed-role sessions cannot: a session uses its role's policies).
 *
 * @example
 * ```ts
 * canHoldIdentityPolicies('arn:aws:iam::111122223333:role/app') // true
 * canHoldIdentityPolicies('arn:aws:iam::111122223333:root') // false
 * ```
 */
export function canHoldIdentityPolicies(arn: string): boolean {
  return HOLDER.test(arn)
}

/**
 * The identity policies that apply to a caller, or `undefined` for the implicit allow-all default:
 * the account root user (IAM policies never restrict it), and every user or role that was never given
 * a `policies` field (backward compatibility: such principals behave as administrators). An
 * assumed-role session uses the policies of its role (matched by role name, whatever the role's path).
 *
 * @example
 * ```ts
 * const policies = identityPoliciesOf(state, caller) // undefined → implicit allow-all
 * ```
 */
export function identityPoliciesOf(
  state: EngineState,
  caller: CallerIdentity,
): Map<string, IdentityPolicy> | undefined {
  if (ROOT.test(caller.principalArn)) return undefined
  const own = state.identityPolicies.get(caller.principalArn)
  if (own) return own
  const session = SESSION.exec(caller.principalArn)
  if (!session) return undefined
  const [, account, role] = session
  for (const [arn, policies] of state.identityPolicies) {
    // A role ARN may carry a path (role/path/name); the session ARN carries only the name.
    if (arn.includes(`::${account}:role/`) && arn.endsWith(`/${role}`)) return policies
  }
  return undefined
}

/**
 * The identity-policy verdict for `kms:<action>` on `resource` (a key ARN, an alias ARN, or `*` for
 * operations without a resource): `allow` for the implicit allow-all default, else what the caller's
 * policies say (`deny`, `allow`, or `none` = no identity-based policy allows it).
 *
 * @example
 * ```ts
 * if (identityVerdict(state, caller, 'CreateKey', '*', () => undefined) !== 'allow') throw accessDenied
 * ```
 */
export function identityVerdict(
  state: EngineState,
  caller: CallerIdentity,
  action: string,
  resource: string,
  lookup: ConditionLookup,
): 'allow' | 'deny' | 'none' {
  const policies = identityPoliciesOf(state, caller)
  if (policies === undefined) return 'allow'
  return evaluateIdentityPolicies(policies.values(), { action: `kms:${action}`, resource, lookup })
}
