import { fail } from './errors.js'
import { newMaterial } from './key-factory.js'
import type { OpContext } from './operation.js'
import type { KeyRecord } from './types.js'

const KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/
const ALIAS_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias\/.+)$/

/** Options of {@link resolveKey}. */
export interface ResolveOptions {
  /** The operation accepts keys of other accounts (by key ARN or alias ARN). */
  crossAccount: boolean
}

/**
 * Resolve a KeyId member (key id, key ARN, alias name, alias ARN) to a key. A bare id or alias name
 * resolves in the caller's account; another account's key is reachable only by ARN, and only for
 * operations that allow cross-account use. Unknown → NotFoundException. Internal.
 */
export function resolveKey(ctx: OpContext, keyId: string, options: ResolveOptions): KeyRecord {
  const { state, caller } = ctx
  let accountId = caller.accountId
  let id: string | undefined
  let alias: string | undefined
  const keyArn = KEY_ARN.exec(keyId)
  const aliasArn = keyArn ? null : ALIAS_ARN.exec(keyId)
  if (keyArn) {
    if (keyArn[1] !== state.region) throw fail.notFound(`Key '${keyId}' does not exist`)
    accountId = keyArn[2] as string
    id = keyArn[3]
  } else if (aliasArn) {
    if (aliasArn[1] !== state.region) throw fail.notFound(`Alias ${keyId} is not found.`)
    accountId = aliasArn[2] as string
    alias = aliasArn[3]
  } else if (keyId.startsWith('alias/')) {
    alias = keyId
  } else if (keyId.startsWith('arn:')) {
    throw fail.notFound(`Invalid arn ${keyId}`)
  } else {
    id = keyId
  }
  // Precondition: another account's key only where the operation allows cross-account use.
  if (accountId !== caller.accountId && !options.crossAccount) {
    throw fail.notFound(`Key '${keyId}' does not exist`)
  }
  if (alias !== undefined) {
    const a = state.aliases.get(`${accountId}/${alias}`)
    if (!a) throw fail.notFound(`Alias ${state.aliasArn(accountId, alias)} is not found.`)
    id = a.targetKeyId
  }
  const key = state.keys.get(state.keyArn(accountId, id as string))
  if (!key || !maintain(ctx, key))
    throw fail.notFound(`Key '${state.keyArn(accountId, id as string)}' does not exist`)
  if (!ctx.audit.keys.includes(key)) ctx.audit.keys.push(key)
  return key
}

/**
 * Apply what time did to a key: a deletion date that passed deletes it (returns false), an automatic
 * rotation that came due adds backing material. Internal.
 */
export function maintain(ctx: OpContext, key: KeyRecord): boolean {
  if (key.keyState === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= ctx.now) {
    ctx.state.purgeKey(key)
    ctx.dirty = true
    return false
  }
  if (
    key.rotationEnabled &&
    key.nextRotationDate !== undefined &&
    key.nextRotationDate <= ctx.now &&
    key.keyState === 'Enabled'
  ) {
    rotate(key, ctx.now, 'AUTOMATIC')
    key.nextRotationDate = ctx.now + (key.rotationPeriodInDays ?? 365) * 86_400_000
    ctx.dirty = true
  }
  return true
}

/** Add a new backing-material version; new encryptions use it, older versions still decrypt. Internal. */
export function rotate(key: KeyRecord, now: number, rotationType: 'AUTOMATIC' | 'ON_DEMAND'): void {
  const last = key.materials[key.materials.length - 1]!
  key.materials.push({ version: last.version + 1, createdAt: now, material: newMaterial(key.keySpec) })
  key.rotations.push({ rotationDate: now, rotationType })
}

/** Key state check for cryptographic use: Disabled → DisabledException, PendingDeletion → KMSInvalidStateException. */
export function requireUsable(key: KeyRecord): void {
  if (key.keyState === 'Disabled') throw fail.disabled(key.arn)
  if (key.keyState === 'PendingDeletion') throw fail.pendingDeletion(key.arn)
}

/** Key state check for management operations: PendingDeletion → KMSInvalidStateException. */
export function requireNotPendingDeletion(key: KeyRecord): void {
  if (key.keyState === 'PendingDeletion') throw fail.pendingDeletion(key.arn)
}

/** Symmetric encryption key check for data-key and symmetric crypto operations. */
export function requireSymmetric(key: KeyRecord, operation: string): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.keyUsage !== 'ENCRYPT_DECRYPT') {
    throw fail.keyUsage(
      `${key.arn} key usage is ${key.keyUsage} (KeySpec ${key.keySpec}) which is not valid for ${operation}; use a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key.`,
    )
  }
}
