import type { ConditionLookup } from './conditions.js'
import { contextContains, contextEquals } from './context.js'
import { KmsServiceError } from './errors.js'
import type { OpContext } from './operation.js'
import { evaluatePolicy, parsePolicy, principalMatches, type Statement } from './policy.js'
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

function lookupFor(ctx: OpContext, key: KeyRecord, action: string, facts: AuthFacts): ConditionLookup {
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
      const tag = key.tags.find((t) => t.TagKey.toLowerCase() === name.slice('aws:resourcetag/'.length))
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
        return [key.keySpec]
      case 'kms:keyusage':
        return [key.keyUsage]
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
 * Authorize `action` (e.g. `Decrypt`) on `key`: an explicit Deny in the key policy refuses; an Allow
 * statement or a live grant allows (the grant id is recorded for the audit log); anything else refuses.
 * Throws AccessDeniedException naming the principal, the action and the key ARN. Internal.
 */
export function authorize(ctx: OpContext, key: KeyRecord, action: string, facts: AuthFacts = {}): void {
  const verdict = evaluatePolicy(statementsOf(ctx, key), {
    action: `kms:${action}`,
    resource: key.arn,
    caller: ctx.caller,
    lookup: lookupFor(ctx, key, action, facts),
  })
  const who = `User: ${ctx.caller.principalArn} is not authorized to perform: kms:${action} on resource: ${key.arn}`
  if (verdict === 'deny') {
    throw new KmsServiceError(
      'AccessDeniedException',
      `${who} with an explicit deny in a resource-based policy`,
    )
  }
  if (verdict === 'allow') return
  if (GRANT_OPERATIONS.has(action)) {
    for (const grant of ctx.state.grantsOf(key.arn)) {
      if (grantAllows(ctx, grant, action, facts)) {
        ctx.audit.grantId = grant.grantId
        return
      }
    }
  }
  throw new KmsServiceError(
    'AccessDeniedException',
    `${who} because no resource-based policy allows the kms:${action} action (no key policy statement or grant allows it)`,
  )
}
