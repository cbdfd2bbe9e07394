import type { ConditionLookup } from './conditions.js'
import { contextContains, contextEquals } from './context.js'
import { KmsServiceError } from './errors.js'
import { identityVerdict } from './identity.js'
import type { OpContext } from './operation.js'
import { evaluateKeyPolicy, parsePolicy, principalMatches, type Statement } from './policy.js'
import type { EncryptionContext, GrantRecord, KeyRecord } from './types.js'

/** Request facts beyond caller and key that policies and grants look at. Internal. */
export interface AuthFacts {
  /** Encryption context of the request, for operations that take one. */
  context?: EncryptionContext
  grantOperations?: string[]
  granteePrincipal?: string
  retiringPrincipal?: string
  grantConstraintType?: string
  encryptionAlgorithm?: string
}

/** Operations a grant can allow. */
export const GRANT_OPERATIONS = new Set([
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
])

const GRANT_OPS_WITH_CONTEXT = new Set([
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
])

function statementsOf(ctx: OpContext, key: KeyRecord): Statement[] {
  const cached = ctx.policyCache.get(key.arn)
  if (cached && cached.source === key.policy) return cached.statements
  const statements = parsePolicy(key.policy)
  ctx.policyCache.set(key.arn, { source: key.policy, statements })
  return statements
}

function lookupFor(
  ctx: OpContext,
  key: KeyRecord | undefined,
  action: string,
  facts: AuthFacts,
): ConditionLookup {
  const { caller } = ctx
  const isGrantAction = action === 'CreateGrant' || action === 'ListGrants' || action === 'RevokeGrant'
  return (name) => {
    if (name.startsWith('kms:encryptioncontext:')) {
      if (!facts.context) return undefined
      const wanted = name.slice('kms:encryptioncontext:'.length)
      const hit = Object.keys(facts.context).find((k) => k.toLowerCase() === wanted)
      return hit === undefined ? undefined : [facts.context[hit] as string]
    }
    if (name.startsWith('aws:resourcetag/')) {
      const tag = key?.tags.find((t) => t.TagKey.toLowerCase() === name.slice('aws:resourcetag/'.length))
      return tag ? [tag.TagValue] : undefined
    }
    switch (name) {
      case 'kms:encryptioncontextkeys':
        return facts.context ? Object.keys(facts.context) : undefined
      case 'kms:calleraccount':
      case 'aws:principalaccount':
        return [caller.accountId]
      case 'aws:principalarn':
        return [caller.principalArn]
      case 'kms:viaservice':
        return caller.viaService ? [caller.viaService] : undefined
      case 'kms:grantisforawsresource':
        return isGrantAction ? [caller.viaService ? 'true' : 'false'] : undefined
      case 'kms:grantoperations':
        return facts.grantOperations
      case 'kms:granteeprincipal':
        return facts.granteePrincipal ? [facts.granteePrincipal] : undefined
      case 'kms:retiringprincipal':
        return facts.retiringPrincipal ? [facts.retiringPrincipal] : undefined
      case 'kms:grantconstrainttype':
        return facts.grantConstraintType ? [facts.grantConstraintType] : undefined
      case 'kms:encryptionalgorithm':
        return facts.encryptionAlgorithm ? [facts.encryptionAlgorithm] : undefined
      case 'kms:keyspec':
        return key ? [key.keySpec] : undefined
      case 'kms:keyusage':
        return key ? [key.keyUsage] : undefined
      case 'kms:keyorigin':
        return ['AWS_KMS']
      case 'kms:keymanager':
        return ['CUSTOMER']
      default:
        return undefined
    }
  }
}

/** Does this live grant allow `operation` for the caller with these facts? */
export function grantAllows(
  ctx: OpContext,
  grant: GrantRecord,
  operation: string,
  facts: AuthFacts,
): boolean {
  if (!grant.operations.includes(operation)) return false
  if (!principalMatches(grant.granteePrincipal, ctx.caller)) return false
  const c = grant.constraints
  if (c && GRANT_OPS_WITH_CONTEXT.has(operation)) {
    const context = facts.context ?? {}
    if (c.EncryptionContextEquals && !contextEquals(context, c.EncryptionContextEquals)) return false
    if (c.EncryptionContextSubset && !contextContains(context, c.EncryptionContextSubset)) return false
  }
  if (operation === 'CreateGrant' && facts.grantOperations) {
    // A grant with CreateGrant lets its grantee create grants for at most the same operations.
    if (!facts.grantOperations.every((op) => grant.operations.includes(op))) return false
  }
  return true
}

/**
 * Is the grant in effect for this request? Within `grantPropagationMs` of its creation (AWS: before it
 * has reached eventual consistency) only when the request carries its grant token; afterwards always.
 */
export function grantInEffect(ctx: OpContext, grant: GrantRecord): boolean {
  return ctx.now - grant.creationDate >= ctx.grantPropagationMs || ctx.grantTokens.includes(grant.grantToken)
}

const denied = (ctx: OpContext, action: string, resource: string, why: string) =>
  new KmsServiceError(
    'AccessDeniedException',
    `User: ${ctx.caller.principalArn} is not authorized to perform: kms:${action} on resource: ${resource} ${why}`,
  )

/**
 * Authorize `action` (e.g. `Decrypt`) on `key` the way AWS KMS does:
 * 1. an explicit Deny in the key policy or in the caller's identity (IAM) policies refuses, grants included;
 * 2. a key policy Allow naming the caller itself (its ARN, its session's role, `*`) allows, within the
 *    key's account;
 * 3. a key policy Allow naming the caller (or its account root, which delegates to IAM) allows when the
 *    caller's identity policies also allow the action on the key (always needed across accounts);
 * 4. else a live grant allows (its id is recorded for the audit log); one created less than
 *    `grantPropagationMs` ago only when the request carries its grant token (see {@link grantInEffect}).
 * Anything else refuses. A caller without identity policies (the account root, or a principal seeded
 * without `policies`) has the implicit allow-all identity policy. Throws AccessDeniedException with
 * AWS's message. Internal.
 */
export function authorize(ctx: OpContext, key: KeyRecord, action: string, facts: AuthFacts = {}): void {
  const lookup = lookupFor(ctx, key, action, facts)
  const verdict = evaluateKeyPolicy(statementsOf(ctx, key), {
    action: `kms:${action}`,
    resource: key.arn,
    caller: ctx.caller,
    lookup,
  })
  // Precondition: no explicit Deny in the key policy, nor in the caller's identity policies.
  if (verdict === 'deny')
    throw denied(ctx, action, key.arn, 'with an explicit deny in a resource-based policy')
  const identity = identityVerdict(ctx.state, ctx.caller, action, key.arn, lookup)
  if (identity === 'deny')
    throw denied(ctx, action, key.arn, 'with an explicit deny in an identity-based policy')
  const sameAccount = ctx.caller.accountId === key.accountId
  // Within the key's account a key policy naming the caller itself is enough; else IAM must agree.
  if (verdict === 'direct' && sameAccount) return
  if (verdict !== 'none' && identity === 'allow') return
  if (GRANT_OPERATIONS.has(action)) {
    for (const grant of ctx.state.grantsOf(key.arn)) {
      if (grantInEffect(ctx, grant) && grantAllows(ctx, grant, action, facts)) {
        ctx.audit.grantId = grant.grantId
        return
      }
    }
  }
  if (verdict === 'none')
    throw denied(
      ctx,
      action,
      key.arn,
      `because no resource-based policy allows the kms:${action} action (no key policy statement or grant allows it)`,
    )
  throw denied(ctx, action, key.arn, `because no identity-based policy allows the kms:${action} action`)
}

/**
 * Authorize an action AWS controls with IAM policies only: on `*` (CreateKey, ListKeys, ListAliases,
 * GenerateRandom, ListRetirableGrants) or on an alias ARN (the alias half of CreateAlias, UpdateAlias,
 * DeleteAlias). Throws AccessDeniedException unless the caller's identity policies allow it. Internal.
 *
 * @example
 * ```ts
 * authorizeIdentityOnly(ctx, 'CreateKey', '*')
 * authorizeIdentityOnly(ctx, 'CreateAlias', ctx.state.aliasArn(ctx.caller.accountId, 'alias/orders'), key)
 * ```
 */
export function authorizeIdentityOnly(
  ctx: OpContext,
  action: string,
  resource: string,
  key?: KeyRecord,
): void {
  const verdict = identityVerdict(ctx.state, ctx.caller, action, resource, lookupFor(ctx, key, action, {}))
  // Precondition: an identity policy allows the action on the resource and none denies it.
  if (verdict === 'deny')
    throw denied(ctx, action, resource, 'with an explicit deny in an identity-based policy')
  if (verdict === 'none')
    throw denied(ctx, action, resource, `because no identity-based policy allows the kms:${action} action`)
}
