/**
 * The engine behind {@link KeyHierarchy} and {@link ScopeKeyring}: finds or creates the current version of
 * a scope, unwraps versions, and records what it does in the audit trail. Internal.
 */
import { hostname } from 'node:os'
import type { KMSClient } from '@aws-sdk/client-kms'
import { ConfigurationError, InvalidKeyError, KeyDestroyedError, KeyStoreError } from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'
import { isKmsKeyArn } from '../kms/key-ref.js'
import { bindingContext, MAX_SCOPE_KEY_VERSION } from './binding.js'
import type { AuditAction, KeyStore, ScopeKeyVersion, ScopeRecord, Tombstone } from './key-store.js'
import { assertScopeId } from './scope-id.js'
import {
  generateScopeKey,
  generateWrappedScopeKey,
  resolveRootKey,
  rewrapScopeKey,
  type ScopeKmsTarget,
  unwrapScopeKey,
} from './scope-kms.js'
import { type KeyWindow, keyWindow } from './window.js'

/** How many times a conditional write is retried after losing a race before giving up. */
const MAX_RACES = 16

/** Resolved configuration of a hierarchy. */
export interface ScopeKeysConfig {
  readonly kms: KMSClient
  readonly grantTokens?: readonly string[]
  readonly rootKeyId: string
  readonly store: KeyStore
  readonly keyWindowMs: number | undefined
  readonly context: EncryptionContext
  readonly actor: string
  readonly clock: () => number
  /** Wrapping keys trusted besides the root key (see KeyHierarchyOptions.trustedKeyIds). */
  readonly trustedKeyIds?: readonly string[] | ((keyArn: string, scopeId: string) => boolean)
}

/** Any key ARN shape KMS may have returned (partition, Region and key id not checked further). */
const STORED_KEY_ARN = /^arn:aws[a-z-]*:kms:[^:]+:\d{12}:key\//

/**
 * True for a key ARN as the key store may record it (compared with `wrappingKeyId`s: the root key ARN,
 * rewrap's `onlyFrom`): core's {@link isKmsKeyArn}, or any `arn:aws…:kms:<region>:<account>:key/<id>`. Looser on
 * purpose: stored ARNs are what KMS returned (not re-parsed), and a stricter check would refuse a
 * compare-and-set against a store's own records (a local KMS key with a custom id, a Region format the
 * parser does not know yet). Aliases, alias ARNs and bare key ids are still refused.
 */
export function isKeyArn(id: string): boolean {
  return isKmsKeyArn(id) || STORED_KEY_ARN.test(id)
}

/** The default actor recorded in the audit trail: this process on this host. */
export function defaultActor(): string {
  return `pid:${process.pid}@${hostname()}`
}

/** ISO time for error messages. */
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString()
}

function destroyedScope(scopeId: string, t: Tombstone | undefined): KeyDestroyedError {
  return new KeyDestroyedError(`Scope "${scopeId}"`, iso(t?.destroyedAt), t?.destroyedBy)
}

/** A plaintext scope key and the record it belongs to. The caller owns (and zeroizes) `plaintext`. */
export interface UnwrappedScopeKey {
  readonly plaintext: Uint8Array
  readonly record: ScopeKeyVersion
}

/** Internal engine; see the file comment. */
export class ScopeKeys {
  readonly config: ScopeKeysConfig
  readonly #kms: ScopeKmsTarget
  #rootArn: Promise<string> | undefined

  constructor(config: ScopeKeysConfig) {
    this.config = config
    this.#kms = { client: config.kms, ...(config.grantTokens ? { grantTokens: config.grantTokens } : {}) }
    if (isKeyArn(config.rootKeyId)) this.#rootArn = Promise.resolve(config.rootKeyId)
  }

  /** The root key's ARN (an alias or key id is resolved once with DescribeKey). */
  rootArn(): Promise<string> {
    if (!this.#rootArn) {
      const pending = resolveRootKey(this.#kms, this.config.rootKeyId, false)
      this.#rootArn = pending
      pending.catch(() => {
        if (this.#rootArn === pending) this.#rootArn = undefined
      })
    }
    return this.#rootArn
  }

  /**
   * Precondition of every use of a wrapping key read from the store (or named by a scope record): it is the
   * root key or a configured trusted key. Someone able to write the store cannot make this process use a
   * key they control (they would know the scope key) or a key outside the configuration.
   */
  async assertTrusted(keyArn: string, scopeId: string): Promise<void> {
    const trusted = this.config.trustedKeyIds
    if (keyArn === (await this.rootArn())) return
    if (typeof trusted === 'function' ? trusted(keyArn, scopeId) : trusted?.includes(keyArn)) return
    throw new InvalidKeyError(
      keyArn,
      'NOT_ALLOWED',
      `it is not a trusted wrapping key for scope "${scopeId}" (neither the root key nor in trustedKeyIds)`,
      'If the scope was switched to this key on purpose, add its ARN to the KeyHierarchy option trustedKeyIds; otherwise the key store was modified: investigate before using it.',
    )
  }

  get kms(): ScopeKmsTarget {
    return this.#kms
  }

  now(): number {
    return this.config.clock()
  }

  async audit(action: AuditAction, scopeId: string, actor: string, version?: number, detail?: string) {
    await this.config.store.appendAudit({
      at: this.now(),
      actor,
      action,
      scopeId,
      ...(version === undefined ? {} : { version }),
      ...(detail === undefined ? {} : { detail }),
    })
  }

  /** The scope record, created if missing. Throws KeyDestroyedError for a destroyed scope. */
  async activeScope(scopeId: string): Promise<ScopeRecord> {
    assertScopeId(scopeId)
    const store = this.config.store
    const record =
      (await store.getScope(scopeId)) ??
      (await store.createScope({ scopeId, state: 'active', createdAt: this.now(), revision: 1 })).record
    // Precondition: the scope was not shredded.
    if (record.state === 'destroyed') throw destroyedScope(scopeId, record.tombstone)
    return record
  }

  /**
   * The plaintext key of the scope's current version: the latest version if it is active and its window
   * has not ended, else a new version for the current window (created once even when several processes
   * race: the store's create-if-absent decides, the losers use the winner's version).
   */
  async currentKey(scopeId: string): Promise<UnwrappedScopeKey> {
    for (let race = 0; race < MAX_RACES; race++) {
      const scope = await this.activeScope(scopeId)
      const latest = await this.config.store.latestVersion(scopeId)
      if (latest?.state === 'active' && (latest.windowEnd === null || this.now() < latest.windowEnd)) {
        return { plaintext: await this.unwrap(scopeId, latest.version, latest), record: latest }
      }
      const created = await this.createVersion(
        scope,
        (latest?.version ?? 0) + 1,
        keyWindow(this.now(), this.config.keyWindowMs),
        'create-version',
        this.config.actor,
        true,
      )
      if (created) return created as UnwrappedScopeKey
    }
    throw new KeyStoreError(
      'CONFLICT',
      `Could not settle the current key version of scope "${scopeId}" after ${MAX_RACES} attempts.`,
      'Another process keeps creating versions (a rotate() loop?); retry later.',
    )
  }

  /**
   * Create `version` of the scope under the scope's root key, unless it exists (then undefined). With
   * `withPlaintext` false the key is generated wrapped only (GenerateDataKeyWithoutPlaintext).
   */
  async createVersion(
    scope: ScopeRecord,
    version: number,
    window: KeyWindow,
    action: AuditAction,
    actor: string,
    withPlaintext: boolean,
  ): Promise<{ plaintext?: Uint8Array; record: ScopeKeyVersion } | undefined> {
    const { scopeId } = scope
    // Precondition: the version number fits the message field.
    if (version > MAX_SCOPE_KEY_VERSION) {
      throw new ConfigurationError(
        `Scope "${scopeId}" has used every version number.`,
        'Use a longer key window or a new scope id.',
      )
    }
    const rootKeyId = scope.rootKeyId ?? this.config.rootKeyId
    // Precondition: a scope's own root key (set by a key switch, read from the store) is trusted.
    if (scope.rootKeyId) await this.assertTrusted(scope.rootKeyId, scopeId)
    const context = bindingContext(scopeId, version, this.config.context)
    const generated = withPlaintext
      ? await generateScopeKey(this.#kms, rootKeyId, context)
      : { ...(await generateWrappedScopeKey(this.#kms, rootKeyId, context)), plaintext: undefined }
    // Postcondition of every failure below (KMS, trust, store, audit, reconcile): the new key is wiped.
    try {
      // Postcondition: KMS used a trusted key (an alias re-pointed elsewhere is refused).
      await this.assertTrusted(generated.keyArn, scopeId)
      let record: ScopeKeyVersion = {
        scopeId,
        version,
        state: 'active',
        createdAt: this.now(),
        createdBy: actor,
        windowStart: window.start,
        windowEnd: window.end,
        wrappingKeyId: generated.keyArn,
        wrappedKey: generated.wrappedKey,
        context: { ...this.config.context },
        revision: 1,
      }
      const result = await this.config.store.createVersion(record)
      if (!result.created) {
        generated.plaintext?.fill(0)
        return undefined
      }
      await this.audit(action, scopeId, actor, version, `wrapped by ${generated.keyArn}`)
      record = await this.#reconcile(scope, record)
      return { ...(generated.plaintext ? { plaintext: generated.plaintext } : {}), record }
    } catch (err) {
      generated.plaintext?.fill(0)
      throw err
    }
  }

  /**
   * A new version was written while the scope may have changed (destroyScope or a key switch running in
   * another process). Each side writes first and reads second, so at least one of them sees the other:
   * here, a destroyed scope destroys the new version, a switched root key re-wraps it.
   */
  async #reconcile(before: ScopeRecord, record: ScopeKeyVersion): Promise<ScopeKeyVersion> {
    const after = await this.config.store.getScope(record.scopeId)
    if (!after || after.revision === before.revision) return record
    if (after.state === 'destroyed') {
      await this.destroyVersion(
        record.scopeId,
        record.version,
        after.tombstone?.destroyedBy ?? this.config.actor,
        'scope destroyed',
      )
      throw destroyedScope(record.scopeId, after.tombstone)
    }
    if (after.rootKeyId && after.rootKeyId !== record.wrappingKeyId) {
      return (
        (await this.rewrapVersion(record.scopeId, record.version, after.rootKeyId, this.config.actor)) ??
        record
      )
    }
    return record
  }

  /**
   * Unwrap (scopeId, version). The binding context is built from the caller's scope id and version (those
   * of the message), never from the record, so a wrapped key copied elsewhere in the store fails in KMS.
   */
  async unwrap(scopeId: string, version: number, known?: ScopeKeyVersion): Promise<Uint8Array> {
    if (!known) {
      // Precondition: the scope was not shredded (its versions may not all be tombstoned yet, e.g. after
      // an interrupted destroyScope).
      const scope = await this.config.store.getScope(scopeId)
      if (scope?.state === 'destroyed') throw destroyedScope(scopeId, scope.tombstone)
    }
    let record = known ?? (await this.config.store.getVersion(scopeId, version))
    for (let attempt = 0; ; attempt++) {
      // Precondition: the version exists in this store.
      if (!record) {
        throw new KeyStoreError(
          'NOT_FOUND',
          `Scope key "${scopeId}" version ${version} is not in the key store.`,
          'Decrypt with the key store the message was encrypted with (same directory or table).',
        )
      }
      // Precondition: the version was not shredded.
      if (record.state === 'destroyed' || !record.wrappedKey) {
        throw new KeyDestroyedError(
          `Scope key "${scopeId}" version ${version}`,
          iso(record.tombstone?.destroyedAt),
          record.tombstone?.destroyedBy,
        )
      }
      // Precondition: the stored wrapping key is trusted (checked before any KMS call).
      await this.assertTrusted(record.wrappingKeyId, scopeId)
      try {
        return await unwrapScopeKey(
          this.#kms,
          record.wrappingKeyId,
          record.wrappedKey,
          bindingContext(scopeId, version, record.context),
        )
      } catch (err) {
        // A key switch or destruction may have replaced the record since it was read: read it again once.
        const fresh = attempt === 0 ? await this.config.store.getVersion(scopeId, version) : undefined
        if (!fresh || fresh.revision === record.revision) throw err
        record = fresh
      }
    }
  }

  /** Destroy one version (idempotent). Returns the tombstoned record, or undefined if it does not exist. */
  async destroyVersion(
    scopeId: string,
    version: number,
    actor: string,
    reason?: string,
  ): Promise<ScopeKeyVersion | undefined> {
    for (let race = 0; race < MAX_RACES; race++) {
      const record = await this.config.store.getVersion(scopeId, version)
      if (!record) return undefined
      if (record.state === 'destroyed') return record
      const { wrappedKey: _dropped, ...rest } = record
      const tombstone: Tombstone = {
        destroyedAt: this.now(),
        destroyedBy: actor,
        ...(reason ? { reason } : {}),
      }
      const destroyed: ScopeKeyVersion = {
        ...rest,
        state: 'destroyed',
        tombstone,
        revision: record.revision + 1,
      }
      if (await this.config.store.updateVersion(destroyed, record.revision)) {
        await this.audit('destroy-version', scopeId, actor, version, reason)
        return destroyed
      }
    }
    throw new KeyStoreError(
      'CONFLICT',
      `Scope key "${scopeId}" version ${version} kept changing while being destroyed.`,
      'Retry the destruction.',
    )
  }

  /**
   * Re-wrap one version under `targetArn` with KMS ReEncrypt and replace its record atomically. Returns
   * the new record; undefined when the version is gone or destroyed. Skips (returns as is) a version already
   * under `targetArn`, and, with `onlyFrom`, a version under any key other than `onlyFrom` (compare-and-set
   * on the wrapping key: the caller sees it in the returned record's `wrappingKeyId`).
   */
  async rewrapVersion(
    scopeId: string,
    version: number,
    targetArn: string,
    actor: string,
    onlyFrom?: string,
  ): Promise<ScopeKeyVersion | undefined> {
    // Precondition: the target is trusted.
    await this.assertTrusted(targetArn, scopeId)
    for (let race = 0; race < MAX_RACES; race++) {
      const record = await this.config.store.getVersion(scopeId, version)
      if (!record || record.state === 'destroyed' || !record.wrappedKey) return undefined
      if (record.wrappingKeyId === targetArn) return record
      // Precondition (compare-and-set): the version is still under `onlyFrom`. The write below is
      // conditional on this record's revision, and every change of a version's wrapping key bumps its
      // revision, so the check still holds when the write lands; a lost race reads the record again.
      if (onlyFrom !== undefined && record.wrappingKeyId !== onlyFrom) return record
      const moved = await rewrapScopeKey(
        this.#kms,
        record.wrappingKeyId,
        targetArn,
        record.wrappedKey,
        bindingContext(scopeId, version, record.context),
      )
      const next: ScopeKeyVersion = {
        ...record,
        wrappingKeyId: moved.keyArn,
        wrappedKey: moved.wrappedKey,
        rewrappedAt: this.now(),
        revision: record.revision + 1,
      }
      if (await this.config.store.updateVersion(next, record.revision)) {
        await this.audit(
          'rewrap-version',
          scopeId,
          actor,
          version,
          `${record.wrappingKeyId} -> ${moved.keyArn}`,
        )
        return next
      }
    }
    throw new KeyStoreError(
      'CONFLICT',
      `Scope key "${scopeId}" version ${version} kept changing during the key switch.`,
      'Run rewrap() again; it resumes where it stopped.',
    )
  }
}
