/**
 * Key switch: move every version of a scope under another KMS key with KMS ReEncrypt. O(versions), not
 * O(records); no plaintext scope key leaves KMS; resumable; readers keep working throughout.
 */
import { ConfigurationError, KeyDestroyedError, KeyStoreError } from '../errors/errors.js'
import type { ScopeRecord } from './key-store.js'
import { isKeyArn, iso, type ScopeKeys } from './scope-keys.js'
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
  /**
   * Compare-and-set on the key the switch moves away from (a key ARN): for a caller acting on a decision
   * it read earlier ("move this scope from A to B"), which may be outdated by the time it runs (a process
   * stalled for the length of a later switch). With it:
   * - the switch proceeds only if the scope's root key (its `rootKeyId`, else this hierarchy's root key) is
   *   `onlyFrom` or already the target (a resumed switch); otherwise `KeyStoreError` `CONFLICT` and nothing
   *   is changed;
   * - a version is re-wrapped only if it is still under `onlyFrom` when its record is replaced; a version
   *   under any third key is left alone and reported in {@link RewrapResult.leftUnder} (so a version that
   *   cannot be re-wrapped any more, e.g. under a key since disabled, no longer blocks later switches).
   * Both checks are protected by the store's conditional writes (the record's revision). Without it the
   * switch moves every active version, whatever its key, and always takes the scope.
   *
   * It compares keys, not history: after A → B → A, a stale "A → B" proceeds. Precondition: a key ARN
   * (ConfigurationError otherwise).
   */
  readonly onlyFrom?: string
}

/** A version a switch with {@link RewrapOptions.onlyFrom} left alone: it is under a third key. */
export interface LeftVersion {
  readonly version: number
  /** The key it is wrapped under (neither the target nor `onlyFrom`). */
  readonly wrappingKeyId: string
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
  /**
   * Active versions left under a third key, with {@link RewrapOptions.onlyFrom} (always empty without it):
   * the caller decides (re-wrap them with another call, or destroy them if they hold no data).
   */
  readonly leftUnder: LeftVersion[]
}

function movedOn(
  scopeId: string,
  root: string,
  targetKeyId: string,
  detail: string,
  cause?: unknown,
): KeyStoreError {
  return new KeyStoreError(
    'CONFLICT',
    `Scope "${scopeId}" is under ${root}, not the key this switch to ${targetKeyId} moves away from${detail}.`,
    `The scope moved on to ${root}; re-read your decision (the switch it came from is outdated) before switching this scope again.`,
    cause === undefined ? undefined : { cause },
  )
}

const MAX_PASSES = 8

/**
 * Run the key switch. Steps: resolve the target ARN (DescribeKey); record it on the scope (new versions
 * are created under it from now on, and the record marks the switch as under way); re-wrap each active
 * version not yet under it (with `onlyFrom`: each version still under `onlyFrom`), each replaced atomically
 * in the store (a reader holding the old record still unwraps with the old key); after each pass read the
 * scope again (another switch may have moved it on: then pass the versions moved on to its key and throw
 * CONFLICT); list again until no version is left behind; clear the mark.
 */
export async function rewrapScope(
  keys: ScopeKeys,
  scopeId: string,
  newRootKeyId: string,
  options: RewrapOptions = {},
): Promise<RewrapResult> {
  const actor = options.actor ?? keys.config.actor
  const store = keys.config.store
  const { onlyFrom } = options
  // Precondition: onlyFrom is compared with the ARNs the store records, so it must be one.
  if (onlyFrom !== undefined && (typeof onlyFrom !== 'string' || !isKeyArn(onlyFrom))) {
    throw new ConfigurationError(
      `rewrap(): onlyFrom must be a key ARN, got ${JSON.stringify(onlyFrom)}.`,
      "Pass the full key ARN (arn:aws:kms:<region>:<account>:key/<id>) the scope is switched away from, as recorded (e.g. the scope's rootKeyId).",
    )
  }
  const targetKeyId = await resolveRootKey(keys.kms, newRootKeyId)
  // Precondition: the target is trusted, else readers would refuse the re-wrapped versions.
  await keys.assertTrusted(targetKeyId, scopeId)

  let scope: ScopeRecord | undefined
  for (let race = 0; ; race++) {
    const current = await keys.activeScope(scopeId)
    if (onlyFrom !== undefined) {
      const root = current.rootKeyId ?? (await keys.rootArn())
      // Precondition (compare-and-set, held by the conditional write below): the scope is still under
      // onlyFrom, or already under the target (resume).
      if (root !== onlyFrom && root !== targetKeyId)
        throw movedOn(scopeId, root, targetKeyId, ` (${onlyFrom})`)
    }
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
  let leftUnder: LeftVersion[] = []
  let settled = false
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const versions = (await store.listVersions(scopeId)).filter((v) => v.state === 'active')
    const behind = versions.filter((v) => v.wrappingKeyId !== targetKeyId)
    const pending = onlyFrom === undefined ? behind : behind.filter((v) => v.wrappingKeyId === onlyFrom)
    leftUnder = behind
      .filter((v) => !pending.includes(v))
      .map((v) => ({ version: v.version, wrappingKeyId: v.wrappingKeyId }))
    if (pass === 0) for (const v of versions) if (v.wrappingKeyId === targetKeyId) alreadyDone.push(v.version)
    if (pending.length === 0) {
      settled = true
      break
    }
    for (const v of pending) {
      const result = await keys.rewrapVersion(scopeId, v.version, targetKeyId, actor, onlyFrom)
      if (result?.wrappingKeyId === targetKeyId) rewrapped.push(v.version)
      options.onProgress?.({
        scopeId,
        version: v.version,
        done: alreadyDone.length + rewrapped.length,
        total: versions.length,
      })
    }
    await passOnIfMovedOn(keys, scopeId, targetKeyId, rewrapped, actor)
  }
  // Postcondition: the scope is still under the target (no later switch overtook this one).
  await passOnIfMovedOn(keys, scopeId, targetKeyId, rewrapped, actor)
  // Postcondition: a pass found nothing left to move; otherwise the switch is not done (the mark stays, so the
  // caller must not disable the old key yet).
  if (!settled) {
    throw new KeyStoreError(
      'CONFLICT',
      `Scope "${scopeId}" still has versions outside ${targetKeyId} after ${MAX_PASSES} passes (new ones kept appearing under the old key).`,
      'Run rewrap() again once the writers have picked up the new key (it resumes); do not disable the old key before it completes.',
    )
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
    `${rewrapped.length} re-wrapped under ${targetKeyId}${leftUnder.length ? `, ${leftUnder.length} left under other keys` : ''}`,
  )
  return { scopeId, targetKeyId, rewrapped: rewrapped.sort((a, b) => a - b), alreadyDone, leftUnder }
}

/**
 * Read after write: this call moved `moved` under `targetKeyId` (maybe none), then reads the scope. If another switch
 * has taken the scope to another key meanwhile (it marks the scope first and lists the versions second, so
 * it may have listed before these writes), pass the versions this call moved on to that key (each only if
 * still under `targetKeyId`) and throw CONFLICT: this switch is outdated.
 */
async function passOnIfMovedOn(
  keys: ScopeKeys,
  scopeId: string,
  targetKeyId: string,
  moved: readonly number[],
  actor: string,
): Promise<void> {
  const after = await keys.config.store.getScope(scopeId)
  if (after?.state === 'destroyed') {
    throw new KeyDestroyedError(
      `Scope "${scopeId}"`,
      iso(after.tombstone?.destroyedAt),
      after.tombstone?.destroyedBy,
    )
  }
  const root = after?.rootKeyId ?? (await keys.rootArn())
  if (root === targetKeyId) return
  const stuck: number[] = []
  let cause: unknown
  for (const version of moved) {
    try {
      const passed = await keys.rewrapVersion(scopeId, version, root, actor, targetKeyId)
      if (passed && passed.wrappingKeyId === targetKeyId) stuck.push(version)
    } catch (err) {
      stuck.push(version)
      cause ??= err
    }
  }
  throw movedOn(
    scopeId,
    root,
    targetKeyId,
    stuck.length
      ? ` (another switch took it there while this one ran; versions ${stuck.join(', ')} could not be passed on and are still under ${targetKeyId})`
      : ' (another switch took it there while this one ran; the versions this call had moved were passed on to it)',
    cause,
  )
}
