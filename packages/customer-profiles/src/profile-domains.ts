import type { KMSClient } from '@aws-sdk/client-kms'
import {
  type CacheLimits,
  ConfigurationError,
  Envelope,
  KeyHierarchy,
  type KeyStore,
  KeyStoreError,
  MemoryKeyStore,
  type RewrapProgress,
  tryParseKmsArn,
} from '@kms-envelope/core'
import { validateCustomerKey } from './customer-key.js'
import { DomainRecords, newIncarnation } from './domain-records.js'
import { explainKeyError } from './grant-errors.js'
import { createDomainGrants, retireDomainGrants } from './grants.js'
import { MemoryProfileStore } from './memory-profile-store.js'
import {
  assertDomainName,
  assertObjectType,
  DOMAIN_CONTEXT_KEY,
  MAX_DOMAIN_GENERATION,
  objectTypeOfScope,
  ownObjectTypeKey,
  parseScopeId,
  scopeIdOf,
} from './names.js'
import { type DomainRuntime, ProfileDomain } from './profile-domain.js'
import { ProfileKeyring } from './profile-keyring.js'
import type { DomainGrant, DomainRecord, ProfileStore } from './profile-store.js'
import { keyOfType, SwitchSafeKeyring } from './switch-guard.js'

const PRINCIPAL = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.+$/
const MAX_GRANT_TOKENS = 10
/** Listing passes of a key switch (the first re-wraps everything; later ones what appeared meanwhile). */
const MAX_SWITCH_PASSES = 4

/** Options of {@link ProfileDomains}. */
export interface ProfileDomainsOptions {
  /** The service's KMS client: the grantee of every grant; it reaches customer keys only through them. */
  readonly kms: KMSClient
  /** ARN of the principal `kms` signs as (the service role): GranteePrincipal and RetiringPrincipal of the grants. */
  readonly servicePrincipal: string
  /**
   * ARN of the service's own symmetric KMS key (a key ARN in the service principal's account; `kms` needs
   * kms:DescribeKey, kms:GenerateDataKey and kms:Decrypt on it). It seals every domain record in the
   * store, so that only the service can decide a domain's keys: see `StoredDomainRecord`. Keep it
   * configured for as long as the domains live (records sealed under another key do not open).
   */
  readonly serviceKeyArn: string
  /** Domains and encrypted objects. Default: a new {@link MemoryProfileStore}. */
  readonly store?: ProfileStore
  /** Wrapped scope keys (core's KeyStore: FileKeyStore, DynamoDbKeyStore, …). Default: a new MemoryKeyStore. */
  readonly keyStore?: KeyStore
  /**
   * Data-key cache of each domain. Default `{ maxAgeMs: 60_000 }`: a revoked grant or disabled key stops
   * a process within a minute (or at once after {@link ProfileDomain.purge}). `false`: ask KMS every time.
   * Each cache miss on the write path also makes two domain-record reads and four key-store reads (the
   * key-switch check, see {@link ProfileDomains.switchKey}); a record read makes no KMS call while the
   * stored record is the one this instance last opened or wrote, else one Decrypt under the service key.
   */
  readonly cache?: Partial<CacheLimits> | false
  /** Key window of the scope keys in ms (a new version per window); default none (until rotated). */
  readonly keyWindowMs?: number
  /**
   * A process's view of a domain loaded within this long after CreateGrant passes the grant tokens to KMS
   * (grants are eventually consistent), until that view is reloaded (after a key switch or a refusal). Default 5 min.
   */
  readonly grantTokenTtlMs?: number
  /** Who this process is in the key hierarchy's audit trail. */
  readonly actor?: string
  /** Clock (epoch ms), for tests. */
  readonly clock?: () => number
}

/** Options of {@link ProfileDomains.createDomain}. */
export interface CreateDomainOptions {
  readonly domainName: string
  /** ARN (key or alias ARN) of the customer managed key for the domain's data. */
  readonly defaultKeyArn: string
  /** Object types with their own customer managed key. */
  readonly objectTypeKeys?: Readonly<Record<string, string>>
  /**
   * A client with the customer's authority over the keys (in AWS: the caller's credentials), used for
   * DescribeKey and CreateGrant. Default: the service's client, which then needs kms:DescribeKey and
   * kms:CreateGrant in the key policy.
   */
  readonly customerKms?: KMSClient
  /** The customer's account: every key must belong to it. Default: the account in each key's ARN. */
  readonly customerAccountId?: string
}

/** Options of {@link ProfileDomains.switchKey}. */
export interface SwitchKeyOptions {
  readonly domainName: string
  /** Switch this object type (it gets its own key); omit to switch the domain's default key. */
  readonly objectType?: string
  /** ARN of the new customer managed key. */
  readonly keyArn: string
  /** See {@link CreateDomainOptions.customerKms}. */
  readonly customerKms?: KMSClient
  /** See {@link CreateDomainOptions.customerAccountId}. */
  readonly customerAccountId?: string
  /** Called after each scope key version is re-wrapped. */
  readonly onProgress?: (progress: RewrapProgress) => void
}

/** What {@link ProfileDomains.switchKey} did. */
export interface SwitchKeyResult {
  readonly domainName: string
  readonly objectType: string | undefined
  readonly fromKeyArn: string
  readonly toKeyArn: string
  /**
   * Per scope (object type): versions re-wrapped now, versions already under the new key (resumed), and
   * versions left under a third key (neither `fromKeyArn` nor `toKeyArn`: left behind by an earlier switch,
   * they hold no data; destroy them, or ignore them).
   */
  readonly scopes: ReadonlyArray<{
    scopeId: string
    rewrapped: number[]
    alreadyDone: number[]
    leftUnder: Array<{ version: number; wrappingKeyId: string }>
  }>
  /** Grants retired because no object type uses their key any more. */
  readonly retiredGrantIds: readonly string[]
}

/** A domain as shown to callers (no grant tokens). */
export interface DomainInfo {
  readonly domainName: string
  readonly defaultKeyArn: string
  readonly objectTypeKeys: Readonly<Record<string, string>>
  readonly grants: ReadonlyArray<{
    keyArn: string
    grantId: string
    describeGrantId: string
    createdAt: number
  }>
  readonly pendingSwitch: DomainRecord['pendingSwitch']
}

/** What {@link ProfileDomains.deleteDomain} did. */
export interface DeleteDomainResult {
  readonly domainName: string
  /** Scopes whose keys were crypto-shredded. */
  readonly destroyedScopes: readonly string[]
  readonly retiredGrantIds: readonly string[]
}

function info(record: DomainRecord): DomainInfo {
  return {
    domainName: record.domainName,
    defaultKeyArn: record.defaultKeyArn,
    objectTypeKeys: { ...record.objectTypeKeys },
    grants: Object.values(record.grants).map((g) => ({
      keyArn: g.keyArn,
      grantId: g.grantId,
      describeGrantId: g.describeGrantId,
      createdAt: g.createdAt,
    })),
    pendingSwitch: record.pendingSwitch,
  }
}

function keysInUse(record: DomainRecord): Set<string> {
  return new Set([record.defaultKeyArn, ...Object.values(record.objectTypeKeys)])
}

/**
 * Amazon Connect Customer Profiles' key model on kms-envelope: each domain's data is protected by the
 * customer's own KMS key (CMK), which the service uses only through a KMS grant it creates at domain
 * creation; object types can have their own key; keys can be switched on existing data; without the grant
 * (revoked) or with the key disabled, the data is unreadable with a typed error naming key and grant.
 *
 * Data keys come from core's key hierarchy: one scope per (domain, object type), its versions generated
 * by KMS under the customer's key with the encryption context `customer-profiles:domain`, which the
 * grant's `EncryptionContextSubset` constraint requires. A key switch re-wraps those versions with KMS
 * ReEncrypt (O(versions), not O(objects); no plaintext key leaves KMS), then retires the old grant.
 *
 * The domain record (keys, grants, switch state) is sealed under the service's own key (`serviceKeyArn`)
 * in the store and authenticated on every read: a record that was edited, forged, copied from another
 * domain or put back under another revision fails with `DomainRecordError` before any data key is
 * made or unwrapped with what it names.
 *
 * @example
 * ```ts
 * import { ProfileDomains } from '@kms-envelope/customer-profiles'
 * const domains = new ProfileDomains({
 *   kms: serviceKms,
 *   servicePrincipal: 'arn:aws:iam::444455556666:role/profiles',
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab',
 * })
 * await domains.createDomain({ domainName: 'retail-eu', defaultKeyArn: customerKeyArn, customerKms })
 * const retail = await domains.domain('retail-eu')
 * await retail.putObject('_profile', 'p-1', { firstName: 'Ana' })
 * await domains.switchKey({ domainName: 'retail-eu', keyArn: newCustomerKeyArn, customerKms })
 * ```
 */
export class ProfileDomains {
  readonly #kms: KMSClient
  readonly #servicePrincipal: string
  readonly #store: ProfileStore
  readonly #records: DomainRecords
  readonly #keyStore: KeyStore
  readonly #cache: Partial<CacheLimits> | false
  readonly #keyWindowMs: number | undefined
  readonly #grantTokenTtlMs: number
  readonly #actor: string | undefined
  readonly #clock: () => number
  readonly #runtimes = new Map<string, Promise<DomainRuntime>>()

  constructor(options: ProfileDomainsOptions) {
    // Precondition: the service's KMS client and the principal it signs as.
    if (typeof options?.kms?.send !== 'function') {
      throw new ConfigurationError(
        'ProfileDomains needs the service KMS client.',
        'Pass { kms: new KMSClient({ region }) }.',
      )
    }
    const serviceAccountId =
      typeof options.servicePrincipal === 'string' ? PRINCIPAL.exec(options.servicePrincipal)?.[1] : undefined
    if (serviceAccountId === undefined) {
      throw new ConfigurationError(
        `servicePrincipal "${String(options.servicePrincipal)}" is not an IAM role or user ARN.`,
        'Pass the ARN of the role the service KMS client signs as, e.g. arn:aws:iam::444455556666:role/profiles-service.',
      )
    }
    // Precondition: the service's own key (it seals the domain records), a key ARN in the service's account.
    const serviceKey =
      typeof options.serviceKeyArn === 'string' ? tryParseKmsArn(options.serviceKeyArn) : undefined
    if (serviceKey?.resourceType !== 'key' || serviceKey.accountId !== serviceAccountId) {
      throw new ConfigurationError(
        `serviceKeyArn "${String(options.serviceKeyArn)}" is not a KMS key ARN in the service's account ${serviceAccountId}.`,
        `Pass the key ARN (not an alias) of a symmetric KMS key of account ${serviceAccountId} that the service role may use (DescribeKey, GenerateDataKey, Decrypt): it seals the domain records.`,
      )
    }
    this.#kms = options.kms
    this.#servicePrincipal = options.servicePrincipal
    this.#store = options.store ?? new MemoryProfileStore()
    this.#records = new DomainRecords({
      store: this.#store,
      kms: this.#kms,
      serviceKeyArn: serviceKey.arn,
      serviceAccountId,
    })
    this.#keyStore = options.keyStore ?? new MemoryKeyStore()
    this.#cache = options.cache ?? { maxAgeMs: 60_000 }
    this.#keyWindowMs = options.keyWindowMs
    this.#grantTokenTtlMs = options.grantTokenTtlMs ?? 300_000
    this.#actor = options.actor
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Create a domain protected by the customer's key: validate each key (symmetric, enabled, customer
   * managed, in the customer's account), create the service's grants on each (with `customerKms`), pin
   * object types with their own key to it, and record the domain.
   *
   * @example
   * ```ts
   * await domains.createDomain({
   *   domainName: 'retail-eu', defaultKeyArn: customerKeyArn, objectTypeKeys: { _order: ordersKeyArn }, customerKms,
   * })
   * ```
   */
  async createDomain(options: CreateDomainOptions): Promise<DomainInfo> {
    const domainName = assertDomainName(options?.domainName)
    const overrides = Object.entries(options.objectTypeKeys ?? {})
    for (const [type] of overrides) assertObjectType(type)
    // Precondition: a new domain.
    if (await this.#store.getDomain(domainName)) {
      throw new ConfigurationError(
        `Domain "${domainName}" already exists.`,
        'Choose another name, or use switchKey() to change its keys.',
      )
    }
    // A name used by a deleted domain gets the next generation: its shredded scopes stay shredded.
    let generation = 1
    for (const scopeId of await this.#keyStore.listScopes()) {
      const used = parseScopeId(domainName, scopeId)?.generation ?? 0
      if (used >= generation) generation = used + 1
    }
    // Precondition: a generation left.
    if (generation > MAX_DOMAIN_GENERATION) {
      throw new ConfigurationError(
        `Domain name "${domainName}" was re-created too often.`,
        'Choose another name.',
      )
    }
    // Precondition: the service key that will seal the record is usable (before any grant is created).
    await this.#records.ready()
    const creator = options.customerKms ?? this.#kms
    const check =
      options.customerAccountId === undefined ? {} : { expectedAccountId: options.customerAccountId }
    const defaultKeyArn = (await validateCustomerKey(creator, options.defaultKeyArn, check)).arn
    // Null prototype: an object type may be named "__proto__" (assignment would set the prototype).
    const objectTypeKeys: Record<string, string> = Object.create(null)
    for (const [type, arn] of overrides)
      objectTypeKeys[type] = (await validateCustomerKey(creator, arn, check)).arn

    const grants: Record<string, DomainGrant> = {}
    let written = false
    try {
      for (const keyArn of new Set([defaultKeyArn, ...Object.values(objectTypeKeys)])) {
        grants[keyArn] = await createDomainGrants({
          creator,
          service: this.#kms,
          keyArn,
          domainName,
          servicePrincipal: this.#servicePrincipal,
          now: this.#clock(),
        })
      }
      const record: DomainRecord = {
        domainName,
        incarnation: newIncarnation(),
        generation,
        defaultKeyArn,
        objectTypeKeys,
        grants,
        createdAt: this.#clock(),
        revision: 1,
      }
      // Postcondition: this call created the domain.
      written = await this.#records.put(record, undefined)
      if (!written) {
        throw new ConfigurationError(
          `Domain "${domainName}" was created concurrently.`,
          'Use the existing domain.',
        )
      }
      // Object types with their own key: new versions of their scope go under that key from the start.
      const hierarchy = this.#hierarchy(record, this.#tokens(record, 'all'))
      for (const [type, keyArn] of Object.entries(objectTypeKeys)) {
        await hierarchy.rewrap(scopeIdOf(domainName, type, record.generation), keyArn)
      }
      return info(record)
    } catch (err) {
      // Undo: no half-created domain, no grant left behind (but the winner's, if another creator won).
      if (written) await this.#records.delete(domainName).catch(() => undefined)
      await this.#retireUnrecorded(domainName, Object.values(grants), !written)
      throw err
    }
  }

  /**
   * The domain's objects API (cached per domain in this instance). DomainRecordError if the stored domain
   * record does not open as an authentic, current record of this domain.
   *
   * @example
   * ```ts
   * const retail = await domains.domain('retail-eu')
   * ```
   */
  async domain(domainName: string): Promise<ProfileDomain> {
    assertDomainName(domainName)
    await this.#runtime(domainName)
    return new ProfileDomain(domainName, {
      store: this.#store,
      current: () => this.#runtime(domainName),
      reload: () => this.#runtime(domainName, true),
    })
  }

  /**
   * The domain's keys and the service's grants on them (no grant tokens).
   *
   * @example
   * ```ts
   * const { defaultKeyArn, grants } = await domains.describeDomain('retail-eu')
   * ```
   */
  async describeDomain(domainName: string): Promise<DomainInfo> {
    return info(await this.#load(domainName))
  }

  /**
   * Switch the domain's default key, or one object type's key, on existing data: validate the new key,
   * create the service's grant on it, record the switch, re-wrap every scope key version concerned with
   * KMS ReEncrypt (the data itself is untouched), then retire the grants of keys no longer used. Interrupted?
   * Call it again with the same arguments: it resumes.
   *
   * Guarantee when it resolves: no stored object of the switched object types (every type without its own
   * key, or `objectType`) needs the old key. Every scope key version that any process of this domain (any
   * ProfileDomains instance on the same stores) has encrypted data under is wrapped under the new key, so
   * the old key may be disabled or deleted. This holds with writers running during the switch, including
   * processes still holding the domain record from before it: the switch records the new key before it lists
   * the scopes, and lists again until a pass finds nothing left to re-wrap; a writer checks, after getting a
   * scope key version and before encrypting under it, that the stored record still allows that version's
   * wrapping key (else it reloads the record, or moves the scope to the new key itself, or starts a new
   * version under it). After it resolves:
   * - a process with data keys cached keeps encrypting and decrypting with them, without KMS, until the
   *   cache entry expires (`cache.maxAgeMs`) or {@link ProfileDomain.purge}. That keeps the guarantee (those
   *   versions were re-wrapped: what it writes is readable under the new key), and it is why disabling the
   *   old key does not stop such a process at once;
   * - a process holding the old record reloads it on its next cache miss (the write path compares the
   *   record's revision) or on the first refusal (reads).
   * A version under the old key that no process encrypted under can be left behind (a writer that created
   * one after the switch's last listing and could not move it): it holds no data; a later switch leaves it
   * where it is and reports it in `scopes[].leftUnder`.
   * A decision read earlier never moves a scope back: every re-wrap (this switch's, and a writer's repair)
   * moves a scope only if it is still under the switch's old key or already under the new one, and a scope
   * key version only while it is still under the old key (core's `rewrap` option `onlyFrom`). A call that
   * stalled while the switch was finished and a later one ran fails with `KeyStoreError` `CONFLICT` instead.
   * Precondition: the ProfileStore's `getDomain` and the KeyStore's reads are strongly consistent.
   *
   * @example
   * ```ts
   * const result = await domains.switchKey({ domainName: 'retail-eu', keyArn: newKeyArn, customerKms })
   * console.log(result.scopes, result.retiredGrantIds)
   * ```
   */
  async switchKey(options: SwitchKeyOptions): Promise<SwitchKeyResult> {
    const domainName = assertDomainName(options?.domainName)
    const objectType = options.objectType === undefined ? undefined : assertObjectType(options.objectType)
    let record = await this.#load(domainName)
    const creator = options.customerKms ?? this.#kms
    const check =
      options.customerAccountId === undefined ? {} : { expectedAccountId: options.customerAccountId }
    const toKeyArn = (await validateCustomerKey(creator, options.keyArn, check)).arn
    const pending = record.pendingSwitch
    const resumed = pending?.toKeyArn === toKeyArn && pending.objectType === objectType
    // Precondition: no other switch under way on this domain.
    if (pending && !resumed) {
      throw new ConfigurationError(
        `Domain "${domainName}" has an unfinished key switch${pending.objectType ? ` of ${pending.objectType}` : ''} to ${pending.toKeyArn}.`,
        'Run that switchKey() again to finish it first.',
      )
    }
    const current = objectType === undefined ? record.defaultKeyArn : keyOfType(record, objectType)
    const fromKeyArn = resumed ? pending.fromKeyArn : current
    if (
      !resumed &&
      current === toKeyArn &&
      (objectType === undefined || ownObjectTypeKey(record.objectTypeKeys, objectType))
    ) {
      return { domainName, objectType, fromKeyArn, toKeyArn, scopes: [], retiredGrantIds: [] }
    }

    if (!resumed) {
      const held = record.grants[toKeyArn]
      const grant =
        held ??
        (await createDomainGrants({
          creator,
          service: this.#kms,
          keyArn: toKeyArn,
          domainName,
          servicePrincipal: this.#servicePrincipal,
          now: this.#clock(),
        }))
      const next: DomainRecord = {
        ...record,
        ...(objectType === undefined
          ? { defaultKeyArn: toKeyArn }
          : { objectTypeKeys: { ...record.objectTypeKeys, [objectType]: toKeyArn } }),
        grants: { ...record.grants, [toKeyArn]: grant },
        pendingSwitch: {
          ...(objectType === undefined ? {} : { objectType }),
          fromKeyArn,
          toKeyArn,
          startedAt: this.#clock(),
        },
        revision: record.revision + 1,
      }
      try {
        record = await this.#save(next, record.revision)
      } catch (err) {
        // Lost a race (or the write failed): no grant left on a key the domain does not record.
        if (!held) await this.#retireUnrecorded(domainName, [grant], true)
        throw err
      }
    }

    // Re-wrap: the object type's scope, or every scope of the domain without its own key. The switch is
    // recorded above, before the first listing: a writer that still uses the old record checks the record
    // after writing a version and finds the switch (switch-guard.ts). Then list again until a pass finds
    // no scope left to re-wrap (one created meanwhile, or a version created under another key), so that
    // when the old key's grants are retired below no version of these scopes is under the old key.
    const hierarchy = this.#hierarchy(record, this.#tokens(record, 'all'))
    const switched = async (): Promise<string[]> =>
      objectType !== undefined
        ? [scopeIdOf(domainName, objectType, record.generation)]
        : (await hierarchy.listScopes()).filter((id) => {
            const type = objectTypeOfScope(domainName, id, record.generation)
            return type !== undefined && ownObjectTypeKey(record.objectTypeKeys, type) === undefined
          })
    const done = new Map<string, Omit<SwitchKeyResult['scopes'][number], 'scopeId'>>()
    // Settled: marked with the new key, and no active version under the old one. A version under a third
    // key (left behind by an earlier switch: it holds no data) is reported, not moved.
    const settled = async (scopeId: string): Promise<boolean> => {
      const scope = await hierarchy.scope(scopeId)
      if (scope?.state === 'destroyed') return true
      if (!done.has(scopeId) || scope?.rootKeyId !== toKeyArn) return false
      return (await hierarchy.listVersions(scopeId)).every(
        (v) => v.state !== 'active' || v.wrappingKeyId !== fromKeyArn,
      )
    }
    try {
      for (let pass = 0; ; pass++) {
        const pending: string[] = []
        for (const scopeId of await switched()) if (!(await settled(scopeId))) pending.push(scopeId)
        if (pending.length === 0) break
        // Postcondition: a bounded number of passes (writers do not keep creating versions under old keys).
        if (pass === MAX_SWITCH_PASSES) {
          throw new KeyStoreError(
            'CONFLICT',
            `Domain "${domainName}": scope key versions under keys other than ${toKeyArn} kept appearing in ${pending.join(', ')} during the key switch.`,
            'Run the same switchKey() again: it resumes.',
          )
        }
        for (const scopeId of pending) {
          // Only from the old key: this call may have stalled since it read the record, and the switch may
          // have been finished and followed by another one since (core then refuses: CONFLICT).
          const result = await hierarchy.rewrap(scopeId, toKeyArn, {
            onlyFrom: fromKeyArn,
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            ...this.#actorOption(),
          })
          const before = done.get(scopeId)
          done.set(scopeId, {
            rewrapped: [...(before?.rewrapped ?? []), ...result.rewrapped],
            alreadyDone: before?.alreadyDone ?? result.alreadyDone,
            leftUnder: result.leftUnder,
          })
        }
      }
    } catch (err) {
      throw explainKeyError(err, record)
    }
    const scopes = [...done].map(([scopeId, r]) => ({
      scopeId,
      rewrapped: r.rewrapped.sort((a, b) => a - b),
      alreadyDone: r.alreadyDone,
      leftUnder: r.leftUnder,
    }))

    // Retire the grants of keys no longer used, then close the switch.
    const used = keysInUse(record)
    const retiredGrantIds: string[] = []
    const grants: Record<string, DomainGrant> = {}
    for (const grant of Object.values(record.grants)) {
      if (used.has(grant.keyArn)) grants[grant.keyArn] = grant
      else retiredGrantIds.push(...(await retireDomainGrants(this.#kms, grant)))
    }
    const { pendingSwitch: _closed, ...rest } = record
    await this.#save({ ...rest, grants, revision: record.revision + 1 }, record.revision)
    return { domainName, objectType, fromKeyArn, toKeyArn, scopes, retiredGrantIds }
  }

  /**
   * Delete a domain: crypto-shred every scope key of its object types, retire the service's grants, delete
   * the domain and its objects.
   *
   * @example
   * ```ts
   * const { destroyedScopes, retiredGrantIds } = await domains.deleteDomain('retail-eu')
   * ```
   */
  async deleteDomain(domainName: string): Promise<DeleteDomainResult> {
    const record = await this.#load(assertDomainName(domainName))
    const hierarchy = this.#hierarchy(record, [])
    const destroyedScopes: string[] = []
    try {
      for (const scopeId of await hierarchy.listScopes()) {
        if (objectTypeOfScope(domainName, scopeId, record.generation) === undefined) continue
        await hierarchy.destroyScope(scopeId, {
          reason: 'domain deleted',
          ...(this.#actor ? { actor: this.#actor } : {}),
        })
        destroyedScopes.push(scopeId)
      }
    } finally {
      // Shredded (or marked destroyed, if a step failed): drop this process's cached keys now, before the
      // steps that may still fail.
      const runtime = this.#runtimes.get(domainName)
      this.#runtimes.delete(domainName)
      runtime?.then((rt) => rt.envelope.purge()).catch(() => undefined)
    }
    const retiredGrantIds: string[] = []
    for (const grant of Object.values(record.grants))
      retiredGrantIds.push(...(await retireDomainGrants(this.#kms, grant)))
    await this.#records.delete(domainName)
    return { domainName, destroyedScopes, retiredGrantIds }
  }

  /** The domain's record, authenticated (DomainRecordError if the stored one is not authentic and current). */
  async #load(domainName: string): Promise<DomainRecord> {
    const record = await this.#records.get(domainName)
    // Precondition: the domain exists.
    if (!record) {
      throw new ConfigurationError(`Domain "${domainName}" does not exist.`, 'Create it with createDomain().')
    }
    return record
  }

  /** Write `next` over revision `expected`, refresh this process's runtime, return `next`. */
  async #save(next: DomainRecord, expected: number): Promise<DomainRecord> {
    // Postcondition: nobody changed the domain meanwhile.
    if (!(await this.#records.put(next, expected))) {
      throw new KeyStoreError(
        'CONFLICT',
        `Domain "${next.domainName}" changed during the update.`,
        'Retry the operation.',
      )
    }
    const old = this.#runtimes.get(next.domainName)
    this.#runtimes.set(next.domainName, Promise.resolve(this.#build(next)))
    old?.then((rt) => rt.envelope.purge()).catch(() => undefined)
    return next
  }

  /**
   * Retire grants this process created for `domainName` (best effort), except those the stored domain
   * record holds when `keepRecorded`: CreateGrant is idempotent by name, so a concurrent writer that won
   * may hold the very same grants. If that record cannot be read (or does not open), none are retired.
   */
  async #retireUnrecorded(
    domainName: string,
    grants: readonly DomainGrant[],
    keepRecorded: boolean,
  ): Promise<void> {
    let holder: DomainRecord | undefined
    try {
      holder = keepRecorded ? await this.#records.get(domainName) : undefined
    } catch {
      return
    }
    const kept = new Set(Object.values(holder?.grants ?? {}).flatMap((g) => [g.grantId, g.describeGrantId]))
    for (const grant of grants) {
      if (kept.has(grant.grantId) || kept.has(grant.describeGrantId)) continue
      await retireDomainGrants(this.#kms, grant).catch(() => undefined)
    }
  }

  /** Grant tokens to send: all of the domain's (right after creating grants), or the crypto ones still young. */
  #tokens(record: DomainRecord, which: 'all' | 'recent'): string[] {
    const grants = Object.values(record.grants).sort((a, b) => b.createdAt - a.createdAt)
    if (which === 'all')
      return grants.flatMap((g) => [g.grantToken, g.describeGrantToken]).slice(0, MAX_GRANT_TOKENS)
    const now = this.#clock()
    return grants
      .filter((g) => now - g.createdAt < this.#grantTokenTtlMs)
      .map((g) => g.grantToken)
      .slice(0, MAX_GRANT_TOKENS)
  }

  #hierarchy(record: DomainRecord, grantTokens: readonly string[]): KeyHierarchy {
    const domainName = record.domainName
    return new KeyHierarchy({
      kms: this.#kms,
      rootKeyId: record.defaultKeyArn,
      store: this.#keyStore,
      context: { [DOMAIN_CONTEXT_KEY]: domainName },
      // Precondition of every wrapping key read from the key store: the domain holds a grant on it.
      trustedKeyIds: (keyArn, scopeId) =>
        objectTypeOfScope(domainName, scopeId, record.generation) !== undefined &&
        Object.hasOwn(record.grants, keyArn),
      ...(grantTokens.length ? { grantTokens } : {}),
      ...(this.#keyWindowMs === undefined ? {} : { keyWindowMs: this.#keyWindowMs }),
      ...(this.#actor === undefined ? {} : { actor: this.#actor }),
      clock: this.#clock,
    })
  }

  #build(record: DomainRecord): DomainRuntime {
    const hierarchy = this.#hierarchy(record, this.#tokens(record, 'recent'))
    const keyring = new SwitchSafeKeyring(
      new ProfileKeyring(
        hierarchy,
        record.domainName,
        record.generation,
        `${record.domainName}\u0000${record.generation}\u0000${record.revision}`,
      ),
      {
        record,
        records: this.#records,
        keyStore: this.#keyStore,
        clock: this.#clock,
        // A switch's own step on one scope: with every grant token (DescribeKey of the target included).
        rewrap: async (scopeId, keyArn, fromKeyArn) => {
          await this.#hierarchy(record, this.#tokens(record, 'all')).rewrap(scopeId, keyArn, {
            onlyFrom: fromKeyArn,
            ...this.#actorOption(),
          })
        },
        rotate: async (scopeId) => {
          await hierarchy.rotate(scopeId, this.#actorOption())
        },
      },
    )
    return { record, envelope: new Envelope({ keyring, cache: this.#cache, clock: this.#clock }) }
  }

  #actorOption(): { actor?: string } {
    return this.#actor === undefined ? {} : { actor: this.#actor }
  }

  #runtime(domainName: string, reload = false): Promise<DomainRuntime> {
    let runtime = reload ? undefined : this.#runtimes.get(domainName)
    if (!runtime) {
      const old = this.#runtimes.get(domainName)
      runtime = this.#load(domainName).then((record) => this.#build(record))
      this.#runtimes.set(domainName, runtime)
      runtime.catch(() => {
        if (this.#runtimes.get(domainName) === runtime) this.#runtimes.delete(domainName)
      })
      if (old && old !== runtime) old.then((rt) => rt.envelope.purge()).catch(() => undefined)
    }
    return runtime
  }
}
