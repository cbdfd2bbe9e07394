/**
 * Key switch: move every version of a scope under another KMS key with KMS ReEncrypt. O(versions), not
 * O(records); no plaintext scope key leaves KMS; resumable; readers keep working throughout.
 */
import { KeyDestroyedError, KeyStoreError } from '../errors/errors.js'
import type { ScopeRecord } from './key-store.js'
import { iso, type ScopeKeys } from './scope-keys.js'
import { resolveRootKey } from './scope-kms.js'

/** Progress of {@link KeyHierarchy.rewrap}, reported after each version. */
export interface RewrapProgress {
  readonly scopeId: string
  /** The version just handled. */
  readonly version: number
  /** Versions handled so far (re-wrapped or already under the target). */
  readonly done: number
  /** Active versions of the scope. */
  readonly total: number
}

/** Options of {@link KeyHierarchy.rewrap}. */
export interface RewrapOptions {
  /** Called after each version. */
  readonly onProgress?: (progress: RewrapProgress) => void
  /** Recorded in the audit trail (default: the hierarchy's actor). */
  readonly actor?: string
}

/** Outcome of {@link KeyHierarchy.rewrap}. */
export interface RewrapResult {
  readonly scopeId: string
  /** ARN of the key every active version is now wrapped under. */
  readonly targetKeyId: string
  /** Versions re-wrapped by this call. */
  readonly rewrapped: number[]
  /** Versions already under the target (done by an earlier, interrupted run). */
  readonly alreadyDone: number[]
}

const MAX_PASSES = 8

/**
 * Run the key switch. Steps: resolve the target ARN (DescribeKey); record it on the scope (new versions
 * are created under it from now on, and the record marks the switch as under way); re-wrap each active
 * version not yet under it, each replaced atomically in the store (a reader holding the old record still
 * unwraps with the old key); list again until no version is left behind; clear the mark.
 */
export async function rewrapScope(
  keys: ScopeKeys,
  scopeId: string,
  newRootKeyId: string,
  options: RewrapOptions = {},
): Promise<RewrapResult> {
  const actor = options.actor ?? keys.config.actor
  const store = keys.config.store
  const targetKeyId = await resolveRootKey(keys.kms, newRootKeyId)
  // Precondition: the target is trusted, else readers would refuse the re-wrapped versions.
  await keys.assertTrusted(targetKeyId, scopeId)

  let scope: ScopeRecord | undefined
  for (let race = 0; ; race++) {
    const current = await keys.activeScope(scopeId)
    const resumed = current.rewrap?.targetKeyId === targetKeyId
    const marked: ScopeRecord = {
      ...current,
      rootKeyId: targetKeyId,
      rewrap: resumed ? current.rewrap! : { targetKeyId, startedAt: keys.now(), startedBy: actor },
      revision: current.revision + 1,
    }
    if (await store.updateScope(marked, current.revision)) {
      if (!resumed) await keys.audit('rewrap-start', scopeId, actor, undefined, `target ${targetKeyId}`)
      scope = marked
      break
    }
    if (race >= MAX_PASSES) {
      throw new KeyStoreError('CONFLICT', `Scope "${scopeId}" kept changing.`, 'Run rewrap() again.')
    }
  }

  const rewrapped: number[] = []
  const alreadyDone: number[] = []
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const versions = (await store.listVersions(scopeId)).filter((v) => v.state === 'active')
    const pending = versions.filter((v) => v.wrappingKeyId !== targetKeyId)
    if (pass === 0) for (const v of versions) if (v.wrappingKeyId === targetKeyId) alreadyDone.push(v.version)
    if (pending.length === 0) break
    for (const v of pending) {
      const result = await keys.rewrapVersion(scopeId, v.version, targetKeyId, actor)
      if (result) rewrapped.push(v.version)
      options.onProgress?.({
        scopeId,
        version: v.version,
        done: alreadyDone.length + rewrapped.length,
        total: versions.length,
      })
    }
  }

  // Clear the mark (keep rootKeyId: new versions go under the new key).
  for (let race = 0; race < MAX_PASSES; race++) {
    const current = (await store.getScope(scopeId)) ?? scope
    if (current.state === 'destroyed') {
      throw new KeyDestroyedError(
        `Scope "${scopeId}"`,
        iso(current.tombstone?.destroyedAt),
        current.tombstone?.destroyedBy,
      )
    }
    if (current.rewrap?.targetKeyId !== targetKeyId) break
    const { rewrap: _done, ...rest } = current
    if (await store.updateScope({ ...rest, revision: current.revision + 1 }, current.revision)) break
  }
  await keys.audit(
    'rewrap-complete',
    scopeId,
    actor,
    undefined,
    `${rewrapped.length} re-wrapped under ${targetKeyId}`,
  )
  return { scopeId, targetKeyId, rewrapped: rewrapped.sort((a, b) => a - b), alreadyDone }
}
