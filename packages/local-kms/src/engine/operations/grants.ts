import { randomBytes } from 'node:crypto'
import { authorize, authorizeIdentityOnly, GRANT_OPERATIONS } from '../authorize.js'
import { contextEquals, readContext } from '../context.js'
import { fail, KmsServiceError } from '../errors.js'
import { newGrantToken, readGrantTokens } from '../grant-token.js'
import type { OpContext, Operation } from '../operation.js'
import { principalAccount, principalMatches } from '../policy.js'
import { requireNotPendingDeletion, resolveKey } from '../resolve.js'
import type { GrantConstraints, GrantRecord } from '../types.js'
import { type Input, optBool, optString, optStringList, paginate, reqString, toWireTime } from '../wire.js'

const PRINCIPAL = /^(arn:aws[a-z-]*:(iam|sts)::\d{12}:.+|[a-z0-9.-]+\.amazonaws\.com)$/

function readPrincipal(input: Input, field: string): string | undefined {
  const v = optString(input, field, 256)
  // Precondition: a principal is an IAM/STS ARN or an AWS service principal.
  if (v !== undefined && !PRINCIPAL.test(v))
    throw fail.validation(`${field} ${v} is not a valid principal ARN.`)
  return v
}

function readConstraints(input: Input): GrantConstraints | undefined {
  const v = input.Constraints
  if (v === undefined || v === null) return undefined
  // Precondition: Constraints holds EncryptionContextEquals and/or EncryptionContextSubset only.
  if (typeof v !== 'object' || Array.isArray(v)) throw fail.validation('Constraints must be an object.')
  const c = v as Record<string, unknown>
  for (const k of Object.keys(c)) {
    if (k !== 'EncryptionContextEquals' && k !== 'EncryptionContextSubset')
      throw fail.validation(`Unknown grant constraint ${k}.`)
  }
  const out: GrantConstraints = {}
  if (c.EncryptionContextEquals != null)
    out.EncryptionContextEquals = readContext(c.EncryptionContextEquals, 'EncryptionContextEquals')
  if (c.EncryptionContextSubset != null)
    out.EncryptionContextSubset = readContext(c.EncryptionContextSubset, 'EncryptionContextSubset')
  return out
}

/** The wire GrantListEntry of a grant. */
export function grantEntry(g: GrantRecord): Record<string, unknown> {
  const e: Record<string, unknown> = {
    KeyId: g.keyArn,
    GrantId: g.grantId,
    CreationDate: toWireTime(g.creationDate),
    GranteePrincipal: g.granteePrincipal,
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
  }
  if (g.name !== undefined) e.Name = g.name
  if (g.retiringPrincipal !== undefined) e.RetiringPrincipal = g.retiringPrincipal
  if (g.constraints !== undefined) e.Constraints = g.constraints
  return e
}

const sameConstraints = (a?: GrantConstraints, b?: GrantConstraints): boolean =>
  contextEquals(a?.EncryptionContextEquals ?? {}, b?.EncryptionContextEquals ?? {}) &&
  contextEquals(a?.EncryptionContextSubset ?? {}, b?.EncryptionContextSubset ?? {}) &&
  (a?.EncryptionContextEquals === undefined) === (b?.EncryptionContextEquals === undefined) &&
  (a?.EncryptionContextSubset === undefined) === (b?.EncryptionContextSubset === undefined)

function findGrantForRetire(ctx: OpContext, input: Input): GrantRecord {
  const token = optString(input, 'GrantToken', 8192)
  if (token !== undefined) {
    readGrantTokens({ GrantTokens: [token] })
    const id = ctx.state.grantsByToken.get(token)
    const grant = id === undefined ? undefined : ctx.state.grants.get(id)
    if (!grant) throw fail.notFound('Grant not found (it may have been retired or revoked already).')
    const key = ctx.state.keys.get(grant.keyArn)
    if (key && !ctx.audit.keys.includes(key)) ctx.audit.keys.push(key)
    return grant
  }
  const keyId = optString(input, 'KeyId')
  const grantId = optString(input, 'GrantId', 128)
  // Precondition: either GrantToken, or KeyId and GrantId.
  if (keyId === undefined || grantId === undefined)
    throw fail.validation('Specify GrantToken, or both KeyId and GrantId.')
  const key = resolveKey(ctx, keyId, { crossAccount: true })
  const grant = ctx.state.grants.get(grantId)
  if (!grant || grant.keyArn !== key.arn)
    throw fail.notFound(`Grant ${grantId} does not exist on ${key.arn}.`)
  return grant
}

/** Grant operations: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. Internal. */
export const grantOperations: Record<string, Operation> = {
  CreateGrant: {
    mutating: true,
    run(ctx, input) {
      const keyId = reqString(input, 'KeyId')
      const grantee = readPrincipal(input, 'GranteePrincipal')
      if (grantee === undefined) reqString(input, 'GranteePrincipal')
      const retiring = readPrincipal(input, 'RetiringPrincipal')
      const operations = optStringList(input, 'Operations', 20)
      // Precondition: at least one grant operation, each one KMS knows.
      if (!operations || operations.length === 0)
        throw fail.validation('Operations must list at least one grant operation.')
      for (const op of operations) {
        if (!GRANT_OPERATIONS.has(op))
          throw fail.validation(`Operation ${op} is not a valid grant operation.`)
      }
      const constraints = readConstraints(input)
      // Precondition: constraints only with operations that take an encryption context.
      if (constraints && operations.some((op) => op === 'DescribeKey' || op === 'GetPublicKey')) {
        throw fail.validation('Grant constraints are not allowed with DescribeKey or GetPublicKey.')
      }
      const name = optString(input, 'Name', 256)
      readGrantTokens(input)
      Object.assign(ctx.audit.requestParameters, {
        keyId,
        granteePrincipal: grantee,
        retiringPrincipal: retiring,
        operations,
        constraints,
        name,
        grantTokens: input.GrantTokens,
      })
      const key = resolveKey(ctx, keyId, { crossAccount: true })
      const facts: Parameters<typeof authorize>[3] = {
        grantOperations: operations,
        granteePrincipal: grantee as string,
      }
      if (retiring !== undefined) facts.retiringPrincipal = retiring
      if (constraints?.EncryptionContextEquals) facts.grantConstraintType = 'EncryptionContextEquals'
      else if (constraints?.EncryptionContextSubset) facts.grantConstraintType = 'EncryptionContextSubset'
      authorize(ctx, key, 'CreateGrant', facts)
      requireNotPendingDeletion(key)
      if (optBool(input, 'DryRun')) throw fail.dryRun()
      if (name !== undefined) {
        // Postcondition: CreateGrant with the same name and parameters is idempotent (same GrantId).
        const same = ctx.state
          .grantsOf(key.arn)
          .find(
            (g) =>
              g.name === name &&
              g.granteePrincipal === grantee &&
              g.retiringPrincipal === retiring &&
              g.operations.join() === operations.join() &&
              sameConstraints(g.constraints, constraints),
          )
        if (same) {
          ctx.audit.requestParameters.grantId = same.grantId
          return { GrantId: same.grantId, GrantToken: same.grantToken }
        }
      }
      const grantId = randomBytes(32).toString('hex')
      const grant: GrantRecord = {
        grantId,
        grantToken: newGrantToken(grantId),
        keyArn: key.arn,
        granteePrincipal: grantee as string,
        issuingAccount: `arn:aws:iam::${ctx.caller.accountId}:root`,
        operations: [...operations],
        creationDate: ctx.now,
      }
      if (name !== undefined) grant.name = name
      if (retiring !== undefined) grant.retiringPrincipal = retiring
      if (constraints !== undefined) grant.constraints = constraints
      ctx.state.addGrant(grant)
      return { GrantId: grantId, GrantToken: grant.grantToken }
    },
  },

  ListGrants: {
    mutating: false,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: true })
      const grantId = optString(input, 'GrantId', 128)
      const grantee = optString(input, 'GranteePrincipal', 256)
      authorize(ctx, key, 'ListGrants')
      const grants = ctx.state
        .grantsOf(key.arn)
        .filter(
          (g) =>
            (grantId === undefined || g.grantId === grantId) &&
            (grantee === undefined || g.granteePrincipal === grantee),
        )
      const { page, ...rest } = paginate(grants, input, 50)
      return { Grants: page.map(grantEntry), ...rest }
    },
  },

  ListRetirableGrants: {
    mutating: false,
    run(ctx, input) {
      const retiring = reqString(input, 'RetiringPrincipal', 256)
      ctx.audit.requestParameters.retiringPrincipal = retiring
      // Precondition: ListRetirableGrants is allowed by an identity (IAM) policy on `*`.
      authorizeIdentityOnly(ctx, 'ListRetirableGrants', '*')
      // Precondition: a caller lists retirable grants of its own account's principals.
      if (principalAccount(retiring) !== ctx.caller.accountId) {
        throw new KmsServiceError(
          'AccessDeniedException',
          `User: ${ctx.caller.principalArn} is not authorized to perform: kms:ListRetirableGrants for principal ${retiring} of another account`,
        )
      }
      const grants = [...ctx.state.grants.values()].filter((g) => g.retiringPrincipal === retiring)
      const { page, ...rest } = paginate(grants, input, 50)
      return { Grants: page.map(grantEntry), ...rest }
    },
  },

  RetireGrant: {
    mutating: true,
    run(ctx, input) {
      const grant = findGrantForRetire(ctx, input)
      ctx.audit.requestParameters.grantId = grant.grantId
      const caller = ctx.caller
      // Precondition: the retiring principal, a grantee holding RetireGrant, or the issuing account's root.
      const allowed =
        (grant.retiringPrincipal !== undefined && principalMatches(grant.retiringPrincipal, caller)) ||
        (grant.operations.includes('RetireGrant') && principalMatches(grant.granteePrincipal, caller)) ||
        grant.issuingAccount === caller.principalArn
      if (!allowed) {
        throw new KmsServiceError(
          'AccessDeniedException',
          `User: ${caller.principalArn} is not authorized to perform: kms:RetireGrant on resource: ${grant.keyArn} because it is neither the retiring principal nor a grantee with RetireGrant for grant ${grant.grantId}`,
        )
      }
      if (optBool(input, 'DryRun')) throw fail.dryRun()
      ctx.state.removeGrant(grant.grantId)
      return {}
    },
  },

  RevokeGrant: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: true })
      const grantId = reqString(input, 'GrantId', 128)
      ctx.audit.requestParameters.grantId = grantId
      authorize(ctx, key, 'RevokeGrant')
      const grant = ctx.state.grants.get(grantId)
      if (!grant || grant.keyArn !== key.arn)
        throw fail.notFound(`Grant ${grantId} does not exist on ${key.arn}.`)
      if (optBool(input, 'DryRun')) throw fail.dryRun()
      ctx.state.removeGrant(grantId)
      return {}
    },
  },
}
