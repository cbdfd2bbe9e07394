/**
 * The key store contract: where scope keys live, wrapped. A store only ever sees KMS ciphertext blobs and
 * metadata, never a plaintext key. Implementations: {@link MemoryKeyStore}, {@link FileKeyStore} (the
 * embedded default) and `DynamoDbKeyStore` (`@kms-envelope/keystore-dynamodb`).
 *
 * Every write is conditional, so several processes sharing one store agree:
 * - `createScope` / `createVersion` create a record only if none exists (two processes creating the same
 *   window's version end up using the same one);
 * - `updateScope` / `updateVersion` replace a record only if its `revision` is still the expected one
 *   (optimistic concurrency; each record is replaced atomically, so a reader sees the old or the new
 *   record, never a mix).
 */
import type { EncryptionContext } from '../keyring/types.js'

/** State of a scope or a scope key version. `destroyed` is final (crypto-shredding). */
export type ScopeKeyState = 'active' | 'destroyed'

/** Who destroyed a key, when and why (kept as a tombstone after the wrapped key is deleted). */
export interface Tombstone {
  /** Epoch ms. */
  readonly destroyedAt: number
  /** The actor recorded in the audit trail. */
  readonly destroyedBy: string
  readonly reason?: string
}

/** One version of a scope key, as stored. */
export interface ScopeKeyVersion {
  readonly scopeId: string
  /** 1, 2, 3, … (messages carry it as a varint). */
  readonly version: number
  readonly state: ScopeKeyState
  /** Epoch ms. */
  readonly createdAt: number
  readonly createdBy: string
  /** Start of the key window (epoch ms): the time from which it encrypts new data. */
  readonly windowStart: number
  /** End of the key window (epoch ms, exclusive); `null` when the scope has no window (used until rotated). */
  readonly windowEnd: number | null
  /** ARN of the KMS key that wraps this version (changes on a key switch, see `rewrap`). */
  readonly wrappingKeyId: string
  /** KMS `CiphertextBlob` of the scope key; absent once destroyed. */
  readonly wrappedKey?: Uint8Array
  /**
   * Extra encryption-context pairs bound into the KMS call besides the scope and version (which always
   * come from the message, never from this record).
   */
  readonly context: EncryptionContext
  /** Starts at 1; +1 on every update. Updates are conditional on it. */
  readonly revision: number
  /** Epoch ms of the last key switch. */
  readonly rewrappedAt?: number
  /** Set when `state` is `destroyed`. */
  readonly tombstone?: Tombstone
}

/** A scope (a customer, an instance, a dataset): its own root key after a key switch, and its state. */
export interface ScopeRecord {
  readonly scopeId: string
  readonly state: ScopeKeyState
  /** Epoch ms. */
  readonly createdAt: number
  /** KMS key (ARN) for new versions of this scope; absent: the hierarchy's default root key. */
  readonly rootKeyId?: string
  /** Set while a key switch is under way (so an interrupted one can be seen and resumed). */
  readonly rewrap?: { readonly targetKeyId: string; readonly startedAt: number; readonly startedBy: string }
  readonly revision: number
  /** Set when `state` is `destroyed` ("forget this customer"). */
  readonly tombstone?: Tombstone
}

/** What an audit event records. */
export type AuditAction =
  | 'create-version'
  | 'rotate'
  | 'destroy-version'
  | 'destroy-scope'
  | 'rewrap-start'
  | 'rewrap-version'
  | 'rewrap-complete'

/** One entry of the audit trail: who did what to which key, when. */
export interface AuditEvent {
  /** Epoch ms. */
  readonly at: number
  readonly actor: string
  readonly action: AuditAction
  readonly scopeId: string
  readonly version?: number
  /** Free text: the reason of a destruction, the target key of a switch, … Never key material. */
  readonly detail?: string
}

/** Result of a create-if-absent write. */
export interface CreateResult<T> {
  /** True when this call created the record; false when one existed (then `record` is the existing one). */
  readonly created: boolean
  readonly record: T
}

/**
 * Storage for scope key records, scope records and the audit trail. Implement it to keep scope keys in
 * another database; run the contract tests in `packages/core/test/scope/key-store-contract.ts` against it.
 *
 * @example
 * ```ts
 * import { FileKeyStore, KeyHierarchy } from '@kms-envelope/core'
 * const store: KeyStore = new FileKeyStore({ directory: '/var/lib/myapp/keys' })
 * const hierarchy = new KeyHierarchy({ kms, rootKeyId, store })
 * ```
 */
export interface KeyStore {
  getScope(scopeId: string): Promise<ScopeRecord | undefined>
  /** Create the scope record unless it exists. */
  createScope(record: ScopeRecord): Promise<CreateResult<ScopeRecord>>
  /** Replace the scope record if its stored revision is `expectedRevision`; false otherwise. */
  updateScope(record: ScopeRecord, expectedRevision: number): Promise<boolean>
  /** Every scope id, sorted. */
  listScopes(): Promise<string[]>

  getVersion(scopeId: string, version: number): Promise<ScopeKeyVersion | undefined>
  /** The version with the highest number, destroyed or not. */
  latestVersion(scopeId: string): Promise<ScopeKeyVersion | undefined>
  /** Every version of the scope, ascending. */
  listVersions(scopeId: string): Promise<ScopeKeyVersion[]>
  /** Create the version unless (scopeId, version) exists. */
  createVersion(record: ScopeKeyVersion): Promise<CreateResult<ScopeKeyVersion>>
  /** Replace the version if its stored revision is `expectedRevision`; false otherwise. Atomic. */
  updateVersion(record: ScopeKeyVersion, expectedRevision: number): Promise<boolean>

  /** Append to the audit trail. */
  appendAudit(event: AuditEvent): Promise<void>
  /** The audit trail (oldest first), optionally of one scope. */
  listAudit(scopeId?: string): Promise<AuditEvent[]>
}
