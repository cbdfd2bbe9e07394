/**
 * The Amazon Personalize side: dataset groups in one account and Region, each encrypted under a key chosen
 * at creation — the customer managed key given in `kmsKeyArn` (used as the IAM role given in `roleArn`,
 * checked before the group exists), or else the service's own key. Each group is remembered in a registry
 * as a record sealed under the service key and bound to the group's ARN, so a new `Personalize` over the
 * same registry and store reopens it (same key, same role, same data) and an edited record is refused.
 */
import { randomUUID } from 'node:crypto'
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  type CacheLimits,
  ConfigurationError,
  customerManagedKey,
  Envelope,
  KmsKeyring,
  parseKmsArn,
  SealedRecords,
} from '@kms-envelope/core'
import { DatasetGroup } from './dataset-group.js'
import { type DatasetStore, MemoryDatasetStore } from './dataset-store.js'
import { DatasetGroupError, DatasetGroupKeyImmutableError } from './errors.js'
import { type GroupRecord, openRecord, sealRecord } from './group-record.js'
import { type DatasetGroupRegistry, MemoryDatasetGroupRegistry } from './group-registry.js'
import { assertDatasetGroupName, datasetGroupArn, parseRoleArn } from './resource-names.js'
import { checkRoleKeyAccess } from './role-key-check.js'

/**
 * Options of {@link Personalize}.
 *
 * @example
 * ```ts
 * const options: PersonalizeOptions = { accountId: '111122223333', region: 'us-east-1', serviceKms, serviceKeyArn, roleClient }
 * ```
 */
export interface PersonalizeOptions {
  /** The customer account the dataset groups belong to (12 digits). */
  readonly accountId: string
  /** The Region of the dataset groups; a customer managed key must be in this Region. */
  readonly region: string
  /** A KMS client with the service's own credentials, for the service-owned key. */
  readonly serviceKms: KMSClient
  /**
   * The service-owned key (key or alias ARN, in the service's account): used when no key is given, and to
   * seal every group's registry record.
   */
  readonly serviceKeyArn: string
  /**
   * A KMS client acting as an IAM role (in AWS: credentials from STS AssumeRole for `roleArn`). Every KMS
   * call for a group with a customer managed key goes through the client of the group's role.
   */
  readonly roleClient: (roleArn: string) => KMSClient | Promise<KMSClient>
  /** Where encrypted imports are kept. Default: a new MemoryDatasetStore. */
  readonly store?: DatasetStore
  /**
   * Where the groups' sealed records are kept (name → record). Default: a new MemoryDatasetGroupRegistry,
   * so groups last as long as this object; with a persistent `store`, give a persistent registry too
   * (`FileDatasetGroupRegistry`, or your own) so the groups and their data survive a restart.
   */
  readonly registry?: DatasetGroupRegistry
  /** Data-key cache of each group (used when reading; every import gets its own data key). Default core's. */
  readonly cache?: Partial<CacheLimits> | false
}

/**
 * Options of {@link Personalize.createDatasetGroup}, as CreateDatasetGroup takes them.
 *
 * @example
 * ```ts
 * const input: CreateDatasetGroupInput = { name: 'movies', kmsKeyArn, roleArn }
 * ```
 */
export interface CreateDatasetGroupInput {
  /** 1–63 letters, digits, `-`, `_`. */
  readonly name: string
  /** A symmetric customer managed key (key ARN or alias ARN) in the same Region. Omit for the service-owned key. */
  readonly kmsKeyArn?: string
  /** The IAM role that may use `kmsKeyArn` (required with it, and only with it). */
  readonly roleArn?: string
}

const ACCOUNT = /^\d{12}$/

/** An opened registry record: the bytes it was opened from, and the group (or its opening). */
interface Opened {
  readonly bytes: Buffer
  readonly group: Promise<DatasetGroup>
}

/**
 * Dataset groups with Amazon Personalize's encryption: optional customer managed key at creation, else a
 * service-owned key; the key must be usable by the given role; everything imported is encrypted with it.
 * Groups are kept in a registry (sealed records), so they survive a restart when the registry and the store
 * do.
 *
 * @example
 * ```ts
 * import { FileDatasetGroupRegistry, Personalize } from '@kms-envelope/personalize'
 * const personalize = new Personalize({
 *   accountId: '111122223333',
 *   region: 'us-east-1',
 *   serviceKms,                                         // the service's own KMS client
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/…',
 *   roleClient: (roleArn) => kmsClientAssuming(roleArn), // e.g. STS AssumeRole credentials
 *   store,                                              // a persistent DatasetStore
 *   registry: new FileDatasetGroupRegistry({ directory: '/var/lib/personalize/groups' }),
 * })
 * const group = await personalize.createDatasetGroup({
 *   name: 'movies',
 *   kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/…',
 *   roleArn: 'arn:aws:iam::111122223333:role/PersonalizeRole',
 * })
 * // After a restart, with the same registry and store:
 * const again = await personalize.getDatasetGroup('movies') // same key, same role, same data
 * ```
 */
export class Personalize {
  readonly accountId: string
  readonly region: string
  readonly partition: string
  readonly store: DatasetStore
  readonly registry: DatasetGroupRegistry
  readonly #serviceKms: KMSClient
  /** Group records: sealed under the service key only (strict), the key validated once (DescribeKey). */
  readonly #records: SealedRecords
  readonly #roleClient: PersonalizeOptions['roleClient']
  readonly #cache: PersonalizeOptions['cache']
  /** Groups opened by this object, by name, with the record bytes they were opened from. */
  readonly #groups = new Map<string, Opened>()
  readonly #creating = new Set<string>()

  constructor(options: PersonalizeOptions) {
    // Precondition: an account, a Region, the service's client and key, and a way to act as a role.
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError(
        'Personalize needs options.',
        'Pass { accountId, region, serviceKms, serviceKeyArn, roleClient }.',
      )
    }
    if (!ACCOUNT.test(String(options.accountId))) {
      throw new ConfigurationError(
        `accountId "${String(options.accountId)}" is not a 12-digit AWS account id.`,
        'Pass the account that owns the dataset groups.',
      )
    }
    if (typeof options.region !== 'string' || !/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(options.region)) {
      throw new ConfigurationError(
        `region "${String(options.region)}" is not an AWS Region.`,
        "Pass e.g. 'us-east-1'.",
      )
    }
    if (!options.serviceKms || typeof options.serviceKms.send !== 'function') {
      throw new ConfigurationError('serviceKms must be a KMSClient.', 'Pass the service’s own KMSClient.')
    }
    if (typeof options.roleClient !== 'function') {
      throw new ConfigurationError(
        'roleClient must be a function returning a KMSClient that acts as the given role.',
        'Pass (roleArn) => new KMSClient({ credentials: fromTemporaryCredentials({ params: { RoleArn: roleArn } }) }).',
      )
    }
    const registry = options.registry ?? new MemoryDatasetGroupRegistry()
    if (typeof registry.create !== 'function' || typeof registry.get !== 'function') {
      throw new ConfigurationError(
        'registry must be a DatasetGroupRegistry (create, get, list, delete).',
        'Pass new FileDatasetGroupRegistry({ directory }) or new MemoryDatasetGroupRegistry().',
      )
    }
    const serviceKey = parseKmsArn(options.serviceKeyArn)
    // Precondition: the service-owned key is in the groups' Region.
    if (serviceKey.region !== options.region) {
      throw new ConfigurationError(
        `The service-owned key ${serviceKey.arn} is in ${serviceKey.region}, not ${options.region}.`,
        'Use a service key in the Region of the dataset groups.',
      )
    }
    this.accountId = options.accountId
    this.region = options.region
    this.partition = serviceKey.partition
    this.store = options.store ?? new MemoryDatasetStore()
    this.registry = registry
    this.#serviceKms = options.serviceKms
    this.#records = new SealedRecords({ kms: options.serviceKms, keyArn: serviceKey.arn })
    this.#roleClient = options.roleClient
    this.#cache = options.cache
  }

  /**
   * Create a dataset group. With `kmsKeyArn` (and `roleArn`): the key is validated and used once by the role
   * (DescribeKey, GenerateDataKey, Decrypt) before the group exists; without: the service-owned key. The key
   * is fixed for the group's life. The group's record is then sealed under the service key
   * (GenerateDataKey) and created in the registry atomically: of concurrent creations of one name, even by
   * several processes sharing the registry, exactly one succeeds.
   *
   * Errors: ConfigurationError (bad name/ARN, role without key or key without role, other Region or
   * account), RoleKeyAccessDeniedError (the role lacks a permission; names it), KeyNotFoundError,
   * KeyDisabledError, InvalidKeyError (asymmetric, not ENCRYPT_DECRYPT, other owner),
   * DatasetGroupKeyImmutableError (the name exists with another key), DatasetGroupError `ALREADY_EXISTS`,
   * DatasetGroupRecordError (the name's existing record was tampered with).
   *
   * @example
   * ```ts
   * const group = await personalize.createDatasetGroup({ name: 'movies', kmsKeyArn, roleArn })
   * const plain = await personalize.createDatasetGroup({ name: 'books' }) // service-owned key
   * ```
   */
  async createDatasetGroup(input: CreateDatasetGroupInput): Promise<DatasetGroup> {
    const { name, kmsKeyArn, roleArn } = input ?? ({} as CreateDatasetGroupInput)
    assertDatasetGroupName(name)
    const arn = datasetGroupArn(this, name)
    const existing = await this.registry.get(name)
    // Precondition: the name is free (a taken name says whether the key differs).
    if (existing !== undefined) throw this.#taken(await this.#open(name, existing), arn, kmsKeyArn)
    // Precondition: one creation per name at a time in this object (the registry decides across objects).
    if (this.#creating.has(name)) throw new DatasetGroupError('ALREADY_EXISTS', arn)
    this.#creating.add(name)
    try {
      const { keyArn, keyOwnership, client } =
        kmsKeyArn === undefined
          ? await this.#withServiceKey(arn, roleArn)
          : await this.#withCustomerKey(arn, kmsKeyArn, roleArn)
      const record: GroupRecord = {
        version: 1,
        name,
        datasetGroupArn: arn,
        kmsKeyArn: keyArn,
        keyOwnership,
        ...(keyOwnership === 'customer-managed' ? { roleArn } : {}),
        incarnation: randomUUID(),
        creationDateTime: new Date().toISOString(),
      }
      const sealed = Buffer.from(await sealRecord(this.#records, record))
      // Postcondition: this object's record is the name's record (another writer may have won the race).
      if (!(await this.registry.create(name, sealed))) {
        const winner = await this.registry.get(name)
        if (winner === undefined) throw new DatasetGroupError('ALREADY_EXISTS', arn)
        throw this.#taken(await this.#open(name, winner), arn, kmsKeyArn)
      }
      const group = this.#group(record, client)
      this.#groups.set(name, { bytes: sealed, group: Promise.resolve(group) })
      return group
    } finally {
      this.#creating.delete(name)
    }
  }

  /**
   * The dataset group named `name`, from the registry: a group created by this object, or by an earlier one
   * (before a restart) over the same registry and store. Its record is authenticated under the service key
   * when first opened (one Decrypt) and the group keeps the key and role it was created with. Errors:
   * DatasetGroupError `NOT_FOUND`; DatasetGroupRecordError if the record was edited, swapped or forged.
   *
   * @example
   * ```ts
   * const group = await personalize.getDatasetGroup('movies')
   * ```
   */
  async getDatasetGroup(name: string): Promise<DatasetGroup> {
    assertDatasetGroupName(name)
    const bytes = await this.registry.get(name)
    if (bytes === undefined) throw new DatasetGroupError('NOT_FOUND', datasetGroupArn(this, name))
    return this.#open(name, bytes)
  }

  /**
   * Every dataset group in the registry, by name (each record authenticated as in
   * {@link Personalize.getDatasetGroup}).
   *
   * @example
   * ```ts
   * for (const g of await personalize.listDatasetGroups()) console.log(g.name, g.kmsKeyArn)
   * ```
   */
  async listDatasetGroups(): Promise<DatasetGroup[]> {
    const groups: DatasetGroup[] = []
    for (const name of await this.registry.list()) {
      const bytes = await this.registry.get(name)
      // A group deleted since the listing is skipped.
      if (bytes !== undefined) groups.push(await this.#open(name, bytes))
    }
    return groups.sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /**
   * Delete a dataset group: its stored imports are deleted, its cached data keys wiped, and the group
   * object refuses further use (DatasetGroupError `DELETED`). The KMS key itself is not touched. The record
   * is removed from the registry once the imports are gone: if the store fails part-way, call it again to
   * finish.
   *
   * @example
   * ```ts
   * await personalize.deleteDatasetGroup('movies')
   * ```
   */
  async deleteDatasetGroup(name: string): Promise<void> {
    const group = await this.getDatasetGroup(name)
    const opened = this.#groups.get(name)
    await group.destroy()
    // Postcondition: forgotten only once its data is gone (so a failed deletion can be retried).
    await this.registry.delete(name)
    if (this.#groups.get(name) === opened) this.#groups.delete(name)
  }

  /** The group of a record's bytes: the one already opened from these bytes, else opened now. */
  #open(name: string, bytes: Uint8Array): Promise<DatasetGroup> {
    const known = this.#groups.get(name)
    if (known?.bytes.equals(bytes)) return known.group
    const opened: Opened = { bytes: Buffer.from(bytes), group: this.#reopen(name, bytes) }
    this.#groups.set(name, opened)
    opened.group.catch(() => {
      if (this.#groups.get(name) === opened) this.#groups.delete(name)
    })
    return opened.group
  }

  async #reopen(name: string, bytes: Uint8Array): Promise<DatasetGroup> {
    const serviceKey = await this.#records.key()
    const record = await openRecord(this.#records, bytes, {
      name,
      datasetGroupArn: datasetGroupArn(this, name),
      region: this.region,
      accountId: this.accountId,
      serviceKeyArn: serviceKey.arn,
    })
    const client =
      record.keyOwnership === 'customer-managed' ? await this.#roleClient(record.roleArn!) : this.#serviceKms
    return this.#group(record, client)
  }

  #taken(existing: DatasetGroup, arn: string, kmsKeyArn: string | undefined): Error {
    const sameKey =
      kmsKeyArn === undefined ? existing.keyOwnership === 'service-owned' : kmsKeyArn === existing.kmsKeyArn
    // Precondition: a group's key cannot be changed.
    if (!sameKey) return new DatasetGroupKeyImmutableError(arn, existing.kmsKeyArn, kmsKeyArn)
    return new DatasetGroupError('ALREADY_EXISTS', arn)
  }

  async #withServiceKey(
    arn: string,
    roleArn: string | undefined,
  ): Promise<{ keyArn: string; keyOwnership: 'service-owned'; client: KMSClient }> {
    // Precondition: a role only comes with a customer managed key (as in CreateDatasetGroup).
    if (roleArn !== undefined) {
      throw new ConfigurationError(
        `Dataset group ${arn}: a roleArn was given without a kmsKeyArn.`,
        'Supplying a role is only valid with a customer managed key: pass kmsKeyArn too, or drop roleArn.',
      )
    }
    const summary = await this.#records.key()
    return { keyArn: summary.arn, keyOwnership: 'service-owned', client: this.#serviceKms }
  }

  async #withCustomerKey(
    arn: string,
    kmsKeyArn: string,
    roleArn: string | undefined,
  ): Promise<{ keyArn: string; keyOwnership: 'customer-managed'; client: KMSClient }> {
    const key = customerManagedKey(kmsKeyArn)
    // Precondition: the key is in the groups' Region.
    if (key.region !== this.region) {
      throw new ConfigurationError(
        `KMS key ${kmsKeyArn} is in ${key.region}; dataset group ${arn} is in ${this.region}.`,
        'Use a key in the Region of the dataset group.',
      )
    }
    // Precondition: a role to use the key as, in the customer's account.
    if (roleArn === undefined) {
      throw new ConfigurationError(
        `Dataset group ${arn}: a kmsKeyArn was given without a roleArn.`,
        'Pass the ARN of the IAM service role that may use the key (kms:DescribeKey, kms:GenerateDataKey, kms:Decrypt).',
      )
    }
    const role = parseRoleArn(roleArn)
    if (role.accountId !== this.accountId) {
      throw new ConfigurationError(
        `Role ${roleArn} is not in account ${this.accountId}, which owns dataset group ${arn}.`,
        'Pass a service role of the account that owns the dataset group.',
      )
    }
    const client = await this.#roleClient(roleArn)
    const summary = await checkRoleKeyAccess({
      client,
      roleArn,
      key,
      datasetGroupArn: arn,
      context: { datasetGroup: arn, dataset: 'key-check' },
    })
    return { keyArn: summary.arn, keyOwnership: 'customer-managed', client }
  }

  #group(record: GroupRecord, client: KMSClient): DatasetGroup {
    const keyring = new KmsKeyring({ client, generatorKeyId: record.kmsKeyArn })
    return new DatasetGroup({
      name: record.name,
      datasetGroupArn: record.datasetGroupArn,
      kmsKeyArn: record.kmsKeyArn,
      keyOwnership: record.keyOwnership,
      roleArn: record.roleArn,
      envelope: new Envelope({ keyring, ...(this.#cache === undefined ? {} : { cache: this.#cache }) }),
      kmsStats: () => keyring.stats(),
      store: this.store,
      prefix: `${record.name}/${record.incarnation}/`,
      creationDateTime: new Date(record.creationDateTime),
    })
  }
}
