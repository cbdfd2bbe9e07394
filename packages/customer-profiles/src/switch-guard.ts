/**
 * Key-switch safety on the write path (internal). A process encrypts new data only under a scope key
 * version that a key switch will not leave behind on the key it switches away from.
 *
 * Why: the domain record (which key protects which object type) lives in the ProfileStore, the scope key
 * versions in core's KeyStore, and each process keeps its own copy of the record. While
 * `ProfileDomains.switchKey` runs, another process holding the record from before the switch can create a
 * scope key version (a new object type, a key window roll-over) under the old key, after the switch has
 * listed the scopes: the switch would never re-wrap it, and its data would be lost with the old key.
 *
 * How (each side writes first and reads second, so at least one of them sees the other):
 * - the switch records the new key in the domain record first, then lists and re-wraps the scopes, and
 *   lists again until a pass finds nothing left to re-wrap;
 * - a writer, after its keyring produced a data key (found or created scope key version), reads the
 *   version, then the scope, then the domain record, and uses the version only if {@link mayEncryptUnder}
 *   holds: it is wrapped under the key that record names for the object type, or under the key a switch in
 *   progress moves away from and the switch is still to re-wrap this scope. Otherwise it drops the key and
 *   reloads the record (if it changed) or repairs the scope ({@link SwitchSafeKeyring}) and tries again.
 *
 * Any version a process encrypted under therefore existed, wrapped under the key the then current record
 * named, at an instant when that record was current; a switch that starts later lists it (or re-wraps its
 * scope after that instant) and re-wraps it.
 */
import {
  type DecryptedDataKey,
  decodeVersion,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type Keyring,
  type KeyStore,
  KeyStoreError,
  type ScopeKeyVersion,
} from '@kms-envelope/core'
import { OBJECT_TYPE_CONTEXT_KEY, ownObjectTypeKey } from './names.js'
import type { ProfileKeyring } from './profile-keyring.js'
import type { DomainRecord, PendingKeySwitch } from './profile-store.js'

/** Attempts of one generateDataKey (each may repair the scope once) before giving up. */
const MAX_ATTEMPTS = 4

const changedSignals = new WeakSet<object>()

/** The key `record` names for `objectType`: its own key, else the domain's default key. */
export function keyOfType(record: DomainRecord, objectType: string): string {
  return ownObjectTypeKey(record.objectTypeKeys, objectType) ?? record.defaultKeyArn
}

/** The switch in progress that moves `objectType`'s scope, if any. */
function switchOfType(record: DomainRecord, objectType: string): PendingKeySwitch | undefined {
  const pending = record.pendingSwitch
  if (!pending) return undefined
  if (pending.objectType !== undefined) return pending.objectType === objectType ? pending : undefined
  return ownObjectTypeKey(record.objectTypeKeys, objectType) === undefined ? pending : undefined
}

/**
 * Whether new data of `objectType` may be encrypted under a scope key version wrapped by `wrappingKeyId`,
 * given the domain `record` and the scope's own root key (`scopeRootKeyId`, undefined when the scope
 * follows the default key), both read after the version. True when the version is under the key the
 * record names for the type, or under the key a switch in progress moves away from while that switch has
 * not marked the scope yet (it marks a scope, then lists its versions, so it will see this one):
 * - a switch of one object type always re-wraps that type's scope; not marked yet: its root key is not the
 *   target;
 * - a switch of the default key re-wraps the scopes it lists after recording the switch; a scope pinned to
 *   the old key (by an earlier switch) existed before, so it is listed. A scope that follows the default
 *   key may have been created after the listing, so a version of it under the old key is refused.
 */
function mayEncryptUnder(
  record: DomainRecord,
  objectType: string,
  wrappingKeyId: string,
  scopeRootKeyId: string | undefined,
): boolean {
  if (wrappingKeyId === keyOfType(record, objectType)) return true
  const pending = switchOfType(record, objectType)
  if (!pending || wrappingKeyId !== pending.fromKeyArn) return false
  return pending.objectType === undefined
    ? scopeRootKeyId === pending.fromKeyArn
    : scopeRootKeyId !== pending.toKeyArn
}

/**
 * The error that tells {@link ProfileDomain} to reload the domain record and retry: the record changed
 * while this process was using an older one. Reaches the caller only if the record keeps changing.
 */
function domainChanged(domainName: string, had: number, now: number | undefined): KeyStoreError {
  const err = new KeyStoreError(
    'CONFLICT',
    now === undefined
      ? `Domain "${domainName}" was deleted while this process was writing to it.`
      : `Domain "${domainName}" changed (revision ${had} to ${now}, e.g. a key switch) while this process was writing to it.`,
    'Retry the operation: it reloads the domain.',
  )
  changedSignals.add(err)
  return err
}

/** True for the error of {@link domainChanged}. */
export function isDomainChanged(err: unknown): boolean {
  return typeof err === 'object' && err !== null && changedSignals.has(err)
}

/** What a {@link SwitchSafeKeyring} works with. */
export interface SwitchGuardDeps {
  /** The domain record this process's keyring was built from. */
  readonly record: DomainRecord
  /**
   * Reads the stored domain record, authenticated (DomainRecords.get: a sealed record the service wrote for
   * this domain, opened with one KMS Decrypt per record not seen before, none for one already opened).
   */
  readonly records: { get(domainName: string): Promise<DomainRecord | undefined> }
  readonly keyStore: KeyStore
  readonly clock: () => number
  /**
   * Re-wrap the scope under `keyArn` and make it the scope's root key (what a switch does to it), only if
   * the scope is still under `fromKeyArn` or already under `keyArn` (core's `rewrap` option `onlyFrom`):
   * the decision comes from a record read earlier, and a later switch may have moved the scope on.
   */
  rewrap(scopeId: string, keyArn: string, fromKeyArn: string): Promise<void>
  /** Start a new version of the scope under its root key. */
  rotate(scopeId: string): Promise<void>
}

/**
 * The domain's keyring on the write path: the {@link ProfileKeyring}'s data key, used only if
 * {@link mayEncryptUnder} holds for its scope key version (checked after the keyring produced it, in the
 * order version, scope, domain record). Otherwise the key is zeroized and:
 * - the domain record changed: {@link domainChanged} (the caller reloads it and retries);
 * - else the scope's current version is under a key the record no longer uses for the type: the scope is
 *   repaired and the key asked again: re-wrapped under the new key when a switch of this type is in progress
 *   (the switch's own step, which it converges with; only if the scope is still under the switch's old key
 *   or already under the new one, so a repair that runs late cannot move the scope back after a later
 *   switch), else (or if that fails, e.g. the old key's grant is gone) rotated, so that a new version is
 *   created under the scope's root key. A repair that fails because the record changed reloads it.
 * The same repair runs before asking the keyring when the version it would use is already known to be
 * refused, so that a version under a key this process no longer trusts is not even unwrapped.
 * Decryption is passed through: reading old data needs no check.
 */
export class SwitchSafeKeyring implements Keyring {
  readonly partition: string
  readonly #inner: ProfileKeyring
  readonly #deps: SwitchGuardDeps

  constructor(inner: ProfileKeyring, deps: SwitchGuardDeps) {
    this.#inner = inner
    this.#deps = deps
    this.partition = inner.partition
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const scopeId = this.#inner.dataKeyScope(context)
    const objectType = context[OBJECT_TYPE_CONTEXT_KEY]!
    const { keyStore, record } = this.#deps
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Before: the record is this process's, and the version the keyring would use (if any) is allowed.
      const latest = await keyStore.latestVersion(scopeId)
      const scope = await keyStore.getScope(scopeId)
      await this.#current()
      if (
        latest &&
        this.#inWindow(latest) &&
        !mayEncryptUnder(record, objectType, latest.wrappingKeyId, scope?.rootKeyId)
      ) {
        await this.#repair(scopeId, objectType)
        continue
      }
      const generated = await this.#inner.generateDataKey(context)
      // After: the version used, then its scope, then the record (in this order: see the file comment).
      const edk = generated.encryptedDataKeys[0]
      const version = edk ? decodeVersion(edk.blob) : undefined
      const used = version === undefined ? undefined : await keyStore.getVersion(scopeId, version)
      const after = await keyStore.getScope(scopeId)
      const now = await this.#deps.records.get(record.domainName)
      if (
        used?.state === 'active' &&
        now &&
        mayEncryptUnder(now, objectType, used.wrappingKeyId, after?.rootKeyId)
      ) {
        return generated
      }
      generated.plaintextKey.fill(0)
      if (now?.revision !== record.revision)
        throw domainChanged(record.domainName, record.revision, now?.revision)
      await this.#repair(scopeId, objectType)
    }
    throw new KeyStoreError(
      'CONFLICT',
      `Could not settle a scope key of "${scopeId}" under key ${keyOfType(record, objectType)} after ${MAX_ATTEMPTS} attempts: its versions keep changing keys.`,
      'Retry later; if it persists, finish any pending key switch of the domain (switchKey with the same arguments).',
    )
  }

  decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    return this.#inner.decryptDataKey(encryptedDataKeys, context)
  }

  dataKeyScope(context: EncryptionContext): string {
    return this.#inner.dataKeyScope(context)
  }

  /** Precondition of every data key: this process's record is the stored one. */
  async #current(): Promise<void> {
    const { record, records } = this.#deps
    const now = await records.get(record.domainName)
    if (now?.revision !== record.revision)
      throw domainChanged(record.domainName, record.revision, now?.revision)
  }

  /** What core's currentKey() would reuse rather than create a new version. */
  #inWindow(version: ScopeKeyVersion): boolean {
    return (
      version.state === 'active' && (version.windowEnd === null || this.#deps.clock() < version.windowEnd)
    )
  }

  async #repair(scopeId: string, objectType: string): Promise<void> {
    const { record } = this.#deps
    const pending = switchOfType(record, objectType)
    if (pending) {
      try {
        // Only from the switch's old key: this process may have stalled since it read the record, and a
        // later switch may have moved the scope on (then core refuses with CONFLICT and changes nothing).
        await this.#deps.rewrap(scopeId, pending.toKeyArn, pending.fromKeyArn)
        return
      } catch {
        // The record this decision came from is outdated (e.g. the scope moved on): reload it.
        await this.#current()
        // Else e.g. a version under a key whose grant is gone: a new version under the new key instead.
      }
    }
    await this.#deps.rotate(scopeId)
  }
}
