/**
 * Crypto-shredding: retention (destroy versions no longer used for new data for longer than a period) and
 * "forget this customer" (destroy a whole scope and refuse new versions for it).
 */
import { ConfigurationError, KeyStoreError } from '../errors/errors.js'
import type { ScopeKeyVersion, ScopeRecord } from './key-store.js'
import { assertScopeId } from './scope-id.js'
import type { ScopeKeys } from './scope-keys.js'

/** Options of the destroy operations. */
export interface DestroyOptions {
  /** Why (kept in the tombstone and the audit trail). */
  readonly reason?: string
  /** Recorded as `destroyedBy` and in the audit trail (default: the hierarchy's actor). */
  readonly actor?: string
}

/**
 * When a version stopped being used for new data: the end of its window, or the start of the next version
 * if that came earlier (a rotation), or never (undefined) for the current version.
 */
export function usageEnd(version: ScopeKeyVersion, next: ScopeKeyVersion | undefined): number | undefined {
  const ends = [version.windowEnd, next?.windowStart].filter((t): t is number => typeof t === 'number')
  return ends.length === 0 ? undefined : Math.min(...ends)
}

/** Destroy every active version whose usage ended more than `retentionMs` ago. Returns their numbers. */
export async function destroyOlderThan(
  keys: ScopeKeys,
  scopeId: string,
  retentionMs: number,
  options: DestroyOptions = {},
): Promise<number[]> {
  assertScopeId(scopeId)
  // Precondition: a non-negative retention period.
  if (!Number.isFinite(retentionMs) || retentionMs < 0) {
    throw new ConfigurationError(
      `retentionMs ${retentionMs} is invalid.`,
      'Pass a non-negative number of milliseconds, e.g. 30 * 86_400_000 for 30 days.',
    )
  }
  const cutoff = keys.now() - retentionMs
  const versions = await keys.config.store.listVersions(scopeId)
  const destroyed: number[] = []
  for (const [i, v] of versions.entries()) {
    const end = usageEnd(v, versions[i + 1])
    if (v.state !== 'active' || end === undefined || end > cutoff) continue
    const reason = options.reason ?? `retention ${retentionMs} ms`
    if (await keys.destroyVersion(scopeId, v.version, options.actor ?? keys.config.actor, reason)) {
      destroyed.push(v.version)
    }
  }
  return destroyed
}

/**
 * Destroy a scope: mark it destroyed first (no process creates a version for it afterwards; one that is
 * creating one right now sees the mark and destroys its version), then destroy every version.
 * Returns the versions destroyed by this call.
 */
export async function destroyScope(
  keys: ScopeKeys,
  scopeId: string,
  options: DestroyOptions = {},
): Promise<number[]> {
  assertScopeId(scopeId)
  const store = keys.config.store
  const actor = options.actor ?? keys.config.actor
  const tombstone = {
    destroyedAt: keys.now(),
    destroyedBy: actor,
    ...(options.reason ? { reason: options.reason } : {}),
  }
  for (let race = 0; ; race++) {
    const current =
      (await store.getScope(scopeId)) ??
      (await store.createScope({ scopeId, state: 'active', createdAt: keys.now(), revision: 1 })).record
    if (current.state === 'destroyed') break
    const { rewrap: _cancelled, ...rest } = current
    const marked: ScopeRecord = { ...rest, state: 'destroyed', tombstone, revision: current.revision + 1 }
    if (await store.updateScope(marked, current.revision)) {
      await keys.audit('destroy-scope', scopeId, actor, undefined, options.reason)
      break
    }
    if (race > 16) {
      throw new KeyStoreError('CONFLICT', `Scope "${scopeId}" kept changing.`, 'Run destroyScope() again.')
    }
  }
  const destroyed: number[] = []
  for (const v of await store.listVersions(scopeId)) {
    if (v.state !== 'active') continue
    if (await keys.destroyVersion(scopeId, v.version, actor, options.reason ?? 'scope destroyed')) {
      destroyed.push(v.version)
    }
  }
  return destroyed
}
