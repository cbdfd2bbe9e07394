/**
 * Where domains and their encrypted profile objects live. The store only ever sees ciphertext: the
 * objects, and each domain's record sealed under the service key (beside it in plaintext only the domain
 * name and the revision it compares); plug in your own (DynamoDB, S3, SQL) by implementing
 * {@link ProfileStore}.
 */

/** The KMS grants the service holds on one customer managed key for one domain. */
export interface DomainGrant {
  /** ARN of the customer managed key. */
  readonly keyArn: string
  /** Grant for GenerateDataKey*, Decrypt and ReEncrypt*, constrained to the domain's encryption context. */
  readonly grantId: string
  /** Its grant token (not secret), passed to KMS while the grant may not be consistent yet. */
  readonly grantToken: string
  /** Grant for DescribeKey alone (KMS refuses constraints on DescribeKey), used to check a key-switch target. */
  readonly describeGrantId: string
  readonly describeGrantToken: string
  /** Epoch ms when the grants were created. */
  readonly createdAt: number
}

/** A key switch under way (recorded first, so an interrupted switch can be seen and run again). */
export interface PendingKeySwitch {
  /** The object type switched, or undefined for the domain's default key. */
  readonly objectType?: string
  readonly fromKeyArn: string
  readonly toKeyArn: string
  readonly startedAt: number
}

/**
 * A domain: its default key, its per-object-type keys and the grants that let the service use them. This
 * is what the service reads from a {@link StoredDomainRecord} once it has authenticated it; the store never
 * sees it in plaintext.
 */
export interface DomainRecord {
  readonly domainName: string
  /** Random id of this creation of the domain (a name deleted and created again gets a new one). */
  readonly incarnation: string
  /** 1, or more when the name was used by a deleted domain (its scopes are `name~<generation>/…`). */
  readonly generation: number
  /** The customer managed key for object types without their own key. */
  readonly defaultKeyArn: string
  /** Object types with their own customer managed key. */
  readonly objectTypeKeys: Readonly<Record<string, string>>
  /** The service's grants, by key ARN: exactly the keys the domain may use. */
  readonly grants: Readonly<Record<string, DomainGrant>>
  readonly pendingSwitch?: PendingKeySwitch
  readonly createdAt: number
  /** Incremented on every update (optimistic concurrency). */
  readonly revision: number
}

/**
 * A domain record as the {@link ProfileStore} holds it: the {@link DomainRecord} sealed by the service (a
 * kms-envelope message under the service's own KMS key, whose authenticated encryption context names the
 * domain and the revision), with the two fields the store needs beside it in plaintext. The store keeps
 * the bytes as they are; only the service can write a record that opens, and a record opens only as the
 * domain and revision it was written for.
 *
 * @example
 * ```ts
 * import type { StoredDomainRecord } from '@kms-envelope/customer-profiles'
 * // DynamoDB item: { domainName (S, key), revision (N, compared by putDomain), sealed (B) }
 * const item = (r: StoredDomainRecord) => ({ domainName: r.domainName, revision: r.revision, sealed: r.sealed })
 * ```
 */
export interface StoredDomainRecord {
  readonly domainName: string
  /** The revision {@link ProfileStore.putDomain} compares; also bound inside `sealed`. */
  readonly revision: number
  /** The sealed {@link DomainRecord}: opaque bytes. */
  readonly sealed: Uint8Array
}

/** One stored object (ciphertext only). */
export interface StoredObject {
  readonly objectType: string
  readonly objectId: string
  readonly ciphertext: Uint8Array
}

/**
 * Persistence for domains and encrypted objects. Domain records are opaque sealed bytes with their
 * revision beside them ({@link StoredDomainRecord}). `putDomain` is conditional (compare-and-set on
 * `revision`), so two processes changing one domain cannot both win. `getDomain` must be strongly
 * consistent (a read returns the last successful `putDomain`, e.g. DynamoDB `ConsistentRead: true`):
 * writers check the record after writing a scope key version, which is what keeps a key switch from
 * missing it (see `ProfileDomains.switchKey`).
 *
 * @example
 * ```ts
 * import { MemoryProfileStore, ProfileDomains, type ProfileStore } from '@kms-envelope/customer-profiles'
 * const store: ProfileStore = new MemoryProfileStore()
 * const domains = new ProfileDomains({ kms, servicePrincipal, serviceKeyArn, store })
 * ```
 */
export interface ProfileStore {
  /** The domain's stored record, bytes as written, or undefined. */
  getDomain(domainName: string): Promise<StoredDomainRecord | undefined>
  /**
   * Write `record` if the stored revision is `expectedRevision` (`undefined`: only if the domain does not
   * exist). Returns false when another writer got there first.
   */
  putDomain(record: StoredDomainRecord, expectedRevision: number | undefined): Promise<boolean>
  deleteDomain(domainName: string): Promise<void>
  putObject(domainName: string, object: StoredObject): Promise<void>
  getObject(domainName: string, objectType: string, objectId: string): Promise<StoredObject | undefined>
  deleteObject(domainName: string, objectType: string, objectId: string): Promise<boolean>
  /** Every object of the domain (optionally of one object type), without ciphertext order guarantees. */
  listObjects(
    domainName: string,
    objectType?: string,
  ): Promise<Array<{ objectType: string; objectId: string }>>
}
