import { authorize, authorizeIdentityOnly } from '../authorize.js'
import { fail } from '../errors.js'
import { readGrantTokens } from '../grant-token.js'
import { keyMetadata, newKeyRecord } from '../key-factory.js'
import type { Operation } from '../operation.js'
import { parsePolicy } from '../policy.js'
import { maintain, requireNotPendingDeletion, resolveKey } from '../resolve.js'
import { readTags } from '../tags.js'
import { optBool, optInt, optString, paginate, reqString, toWireTime } from '../wire.js'

const DAY = 86_400_000

/** Key lifecycle operations: create, describe, list, enable/disable, deletion, key policy. Internal. */
export const keyOperations: Record<string, Operation> = {
  CreateKey: {
    mutating: true,
    run(ctx, input) {
      // Precondition: CreateKey is allowed by an identity (IAM) policy on `*`; no key policy applies.
      authorizeIdentityOnly(ctx, 'CreateKey', '*')
      const keySpec = optString(input, 'KeySpec') ?? optString(input, 'CustomerMasterKeySpec')
      const origin = optString(input, 'Origin')
      // Precondition: only AWS_KMS-origin keys (no imported material, no custom key stores).
      if (origin !== undefined && origin !== 'AWS_KMS')
        throw fail.unsupported(`Origin ${origin} is not supported by the local KMS.`)
      if (optBool(input, 'MultiRegion'))
        throw fail.unsupported('Multi-Region keys are not supported by the local KMS.')
      const policy = optString(input, 'Policy', 32768)
      const params: Parameters<typeof newKeyRecord>[1] = { accountId: ctx.caller.accountId }
      if (keySpec !== undefined) params.keySpec = keySpec
      const usage = optString(input, 'KeyUsage')
      if (usage !== undefined) params.keyUsage = usage
      const description = optString(input, 'Description', 8192)
      if (description !== undefined) params.description = description
      if (policy !== undefined) params.policy = policy
      const tags = readTags(input)
      if (tags !== undefined) params.tags = tags
      const key = newKeyRecord(ctx.state, params, ctx.now)
      ctx.state.keys.set(key.arn, key)
      ctx.audit.keys.push(key)
      return { KeyMetadata: keyMetadata(key) }
    },
  },

  DescribeKey: {
    mutating: false,
    run(ctx, input) {
      const keyId = reqString(input, 'KeyId')
      readGrantTokens(input)
      const key = resolveKey(ctx, keyId, { crossAccount: true })
      authorize(ctx, key, 'DescribeKey')
      return { KeyMetadata: keyMetadata(key) }
    },
  },

  ListKeys: {
    mutating: false,
    run(ctx, input) {
      // Precondition: ListKeys is allowed by an identity (IAM) policy on `*`.
      authorizeIdentityOnly(ctx, 'ListKeys', '*')
      const keys = [...ctx.state.keys.values()].filter(
        (k) => k.accountId === ctx.caller.accountId && maintain(ctx, k),
      )
      const { page, ...rest } = paginate(keys, input)
      return { Keys: page.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...rest }
    },
  },

  EnableKey: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      authorize(ctx, key, 'EnableKey')
      requireNotPendingDeletion(key)
      key.keyState = 'Enabled'
      return {}
    },
  },

  DisableKey: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      authorize(ctx, key, 'DisableKey')
      requireNotPendingDeletion(key)
      key.keyState = 'Disabled'
      return {}
    },
  },

  ScheduleKeyDeletion: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const days = optInt(input, 'PendingWindowInDays', 7, 30) ?? 30
      authorize(ctx, key, 'ScheduleKeyDeletion')
      // Precondition: not already scheduled.
      requireNotPendingDeletion(key)
      key.keyState = 'PendingDeletion'
      key.pendingWindowInDays = days
      key.deletionDate = ctx.now + days * DAY
      return {
        KeyId: key.arn,
        DeletionDate: toWireTime(key.deletionDate),
        KeyState: key.keyState,
        PendingWindowInDays: days,
      }
    },
  },

  CancelKeyDeletion: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      authorize(ctx, key, 'CancelKeyDeletion')
      // Precondition: only a key pending deletion can be cancelled.
      if (key.keyState !== 'PendingDeletion') throw fail.invalidState(`${key.arn} is not pending deletion.`)
      key.keyState = 'Disabled'
      delete key.deletionDate
      delete key.pendingWindowInDays
      return { KeyId: key.arn }
    },
  },

  UpdateKeyDescription: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const description = input.Description
      if (typeof description !== 'string' || description.length > 8192)
        throw fail.validation('Description must be a string of at most 8192 characters.')
      authorize(ctx, key, 'UpdateKeyDescription')
      requireNotPendingDeletion(key)
      key.description = description
      return {}
    },
  },

  GetKeyPolicy: {
    mutating: false,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const name = optString(input, 'PolicyName') ?? 'default'
      authorize(ctx, key, 'GetKeyPolicy')
      if (name !== 'default') throw fail.notFound(`No such policy exists: ${name}`)
      return { Policy: key.policy, PolicyName: 'default' }
    },
  },

  PutKeyPolicy: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const policy = reqString(input, 'Policy', 32768)
      const name = optString(input, 'PolicyName') ?? 'default'
      // Precondition: the only policy name is `default`.
      if (name !== 'default') throw fail.validation('PolicyName must be default.')
      parsePolicy(policy)
      authorize(ctx, key, 'PutKeyPolicy')
      requireNotPendingDeletion(key)
      key.policy = policy
      return {}
    },
  },

  ListKeyPolicies: {
    mutating: false,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      authorize(ctx, key, 'ListKeyPolicies')
      return { PolicyNames: ['default'], Truncated: false }
    },
  },
}
