import { authorize, authorizeIdentityOnly } from '../authorize.js'
import { fail } from '../errors.js'
import type { OpContext, Operation } from '../operation.js'
import { requireNotPendingDeletion, resolveKey } from '../resolve.js'
import type { AliasRecord, KeyRecord } from '../types.js'
import { type Input, optString, paginate, reqString, toWireTime } from '../wire.js'

const ALIAS = /^alias\/[a-zA-Z0-9/_-]+$/

function readAliasName(input: Input): string {
  const name = reqString(input, 'AliasName', 256)
  // Precondition: alias/ followed by letters, digits, / _ -.
  if (!ALIAS.test(name)) throw fail.invalidAlias(`Alias name ${name} must match alias/[a-zA-Z0-9/_-]+.`)
  // Precondition: alias/aws/ is reserved for AWS managed keys.
  if (name.startsWith('alias/aws/'))
    throw fail.invalidAlias('The alias/aws/ prefix is reserved for AWS managed keys.')
  return name
}

function targetKey(ctx: OpContext, input: Input): KeyRecord {
  const target = reqString(input, 'TargetKeyId')
  // Precondition: an alias points at a key (id or ARN), not at another alias.
  if (target.startsWith('alias/') || /:alias\//.test(target))
    throw fail.validation('TargetKeyId must be a key ID or key ARN, not an alias.')
  const key = resolveKey(ctx, target, { crossAccount: false })
  requireNotPendingDeletion(key)
  return key
}

const aliasEntry = (ctx: OpContext, a: AliasRecord) => ({
  AliasName: a.aliasName,
  AliasArn: ctx.state.aliasArn(a.accountId, a.aliasName),
  TargetKeyId: a.targetKeyId,
  CreationDate: toWireTime(a.creationDate),
  LastUpdatedDate: toWireTime(a.lastUpdatedDate),
})

/** Alias operations. Internal. */
export const aliasOperations: Record<string, Operation> = {
  CreateAlias: {
    mutating: true,
    run(ctx, input) {
      const name = readAliasName(input)
      ctx.audit.requestParameters.aliasName = name
      const key = targetKey(ctx, input)
      // Precondition: CreateAlias is allowed on the alias (identity policy) and on the key (key policy).
      authorizeIdentityOnly(ctx, 'CreateAlias', ctx.state.aliasArn(ctx.caller.accountId, name), key)
      authorize(ctx, key, 'CreateAlias')
      const id = `${ctx.caller.accountId}/${name}`
      if (ctx.state.aliases.has(id))
        throw fail.alreadyExists(
          `An alias with the name ${ctx.state.aliasArn(ctx.caller.accountId, name)} already exists`,
        )
      ctx.state.aliases.set(id, {
        accountId: ctx.caller.accountId,
        aliasName: name,
        targetKeyId: key.keyId,
        creationDate: ctx.now,
        lastUpdatedDate: ctx.now,
      })
      return {}
    },
  },

  UpdateAlias: {
    mutating: true,
    run(ctx, input) {
      const name = readAliasName(input)
      ctx.audit.requestParameters.aliasName = name
      const alias = ctx.state.aliases.get(`${ctx.caller.accountId}/${name}`)
      if (!alias) throw fail.notFound(`Alias ${ctx.state.aliasArn(ctx.caller.accountId, name)} is not found.`)
      const key = targetKey(ctx, input)
      const previous = ctx.state.keys.get(ctx.state.keyArn(alias.accountId, alias.targetKeyId))
      // Precondition: UpdateAlias is allowed on the alias (identity policy) and on both keys.
      authorizeIdentityOnly(ctx, 'UpdateAlias', ctx.state.aliasArn(alias.accountId, name), key)
      if (previous) authorize(ctx, previous, 'UpdateAlias')
      authorize(ctx, key, 'UpdateAlias')
      // Precondition: the new target has the same key type and usage as the current one.
      if (previous && (previous.keySpec !== key.keySpec || previous.keyUsage !== key.keyUsage)) {
        throw fail.validation('UpdateAlias must point the alias at a key of the same key spec and key usage.')
      }
      alias.targetKeyId = key.keyId
      alias.lastUpdatedDate = ctx.now
      return {}
    },
  },

  DeleteAlias: {
    mutating: true,
    run(ctx, input) {
      const name = reqString(input, 'AliasName', 256)
      ctx.audit.requestParameters.aliasName = name
      const id = `${ctx.caller.accountId}/${name}`
      const alias = ctx.state.aliases.get(id)
      if (!alias) throw fail.notFound(`Alias ${ctx.state.aliasArn(ctx.caller.accountId, name)} is not found.`)
      const key = ctx.state.keys.get(ctx.state.keyArn(alias.accountId, alias.targetKeyId))
      // Precondition: DeleteAlias is allowed on the alias (identity policy) and on its key.
      authorizeIdentityOnly(ctx, 'DeleteAlias', ctx.state.aliasArn(alias.accountId, name), key)
      if (key) {
        ctx.audit.keys.push(key)
        authorize(ctx, key, 'DeleteAlias')
      }
      ctx.state.aliases.delete(id)
      return {}
    },
  },

  ListAliases: {
    mutating: false,
    run(ctx, input) {
      // Precondition: ListAliases is allowed by an identity (IAM) policy on `*`.
      authorizeIdentityOnly(ctx, 'ListAliases', '*')
      const keyId = optString(input, 'KeyId')
      const key = keyId === undefined ? undefined : resolveKey(ctx, keyId, { crossAccount: false })
      const aliases = [...ctx.state.aliases.values()].filter(
        (a) => a.accountId === ctx.caller.accountId && (key === undefined || a.targetKeyId === key.keyId),
      )
      aliases.sort((a, b) => a.aliasName.localeCompare(b.aliasName))
      const { page, ...rest } = paginate(aliases, input, 50)
      return { Aliases: page.map((a) => aliasEntry(ctx, a)), ...rest }
    },
  },
}
