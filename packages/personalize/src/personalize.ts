/**
 * The Amazon Personalize side: dataset groups in one account and Region, each encrypted under a key chosen
 * at creation — the customer managed key given in `kmsKeyArn` (used as the IAM role given in `roleArn`,
 * checked before the group exists), or else the service's own key.
 */
import { randomUUID } from 'node:crypto'
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  type CacheLimits,
  ConfigurationError,
  customerManagedKey,
  Envelope,
  type KeySummary,
  KmsKeyring,
  parseKmsArn,
  serviceOwnedKey,
  validateKey,
} from '@kms-envelope/core'
import { DatasetGroup } from './dataset-group.js'
import { type DatasetStore, MemoryDatasetStore } from './dataset-store.js'
import { DatasetGroupError, DatasetGroupKeyImmutableError } from './errors.js'
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
  /** The service-owned key (key or alias ARN, in the service's account): used when no key is given. */
  readonly serviceKeyArn: string
  /**
   * A KMS client acting as an IAM role (in AWS: credentials from STS AssumeRole for `roleArn`). Every KMS
   * call for a group with a customer managed key goes through the client of the group's role.
   */
  readonly roleClient: (roleArn: string) => KMSClient | Promise<KMSClient>
  /** Where encrypted imports are kept. Default: a new MemoryDatasetStore. */
  readonly store?: DatasetStore
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

/**
 * Dataset groups with Amazon Personalize's encryption: optional customer managed key at creation, else a
 * service-owned key; the key must be usable by the given role; everything imported is encrypted with it.
 *
 * @example
 * ```ts
 * import { Personalize } from '@kms-envelope/personalize'
 * const personalize = new Personalize({
 *   accountId: '111122223333',
 *   region: 'us-east-1',
 *   serviceKms,                                         // the service's own KMS client
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/…',
 *   roleClient: (roleArn) => kmsClientAssuming(roleArn), // e.g. STS AssumeRole credentials
 * })
 * const group = await personalize.createDatasetGroup({
 *   name: 'movies',
 *   kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/…',
 *   roleArn: 'arn:aws:iam::111122223333:role/PersonalizeRole',
 * })
 * ```
 */
export class Personalize {
  readonly accountId: string
  readonly region: string
  readonly partition: string
  readonly store: DatasetStore
  readonly #serviceKms: KMSClient
  readonly #serviceKeyArn: string
  readonly #roleClient: PersonalizeOptions['roleClient']
  readonly #cache: PersonalizeOptions['cache']
  readonly #groups = new Map<string, DatasetGroup>()
  readonly #creating = new Set<string>()
  #serviceKey: Promise<KeySummary> | undefined

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
    if (typeof options.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(options.region)) {
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
    this.#serviceKms = options.serviceKms
    this.#serviceKeyArn = serviceKey.arn
    this.#roleClient = options.roleClient
    this.#cache = options.cache
  }

  /**
   * Create a dataset group. With `kmsKeyArn` (and `roleArn`): the key is validated and used once by the role
   * (DescribeKey, GenerateDataKey, Decrypt) before the group exists; without: the service-owned key. The key
   * is fixed for the group's life.
   *
   * Errors: ConfigurationError (bad name/ARN, role without key or key without role, other Region or
   * account), RoleKeyAccessDeniedError (the role lacks a permission; names it), KeyNotFoundError,
   * KeyDisabledError, InvalidKeyError (asymmetric, not ENCRYPT_DECRYPT, other owner),
   * DatasetGroupKeyImmutableError (the name exists with another key), DatasetGroupError `ALREADY_EXISTS`.
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
    const existing = this.#groups.get(name)
    if (existing) {
      const sameKey =
        kmsKeyArn === undefined ? existing.keyOwnership === 'service-owned' : kmsKeyArn === existing.kmsKeyArn
      // Precondition: a group's key cannot be changed.
      if (!sameKey) throw new DatasetGroupKeyImmutableError(arn, existing.kmsKeyArn, kmsKeyArn)
      throw new DatasetGroupError('ALREADY_EXISTS', arn)
    }
    // Precondition: one creation per name at a time.
    if (this.#creating.has(name)) throw new DatasetGroupError('ALREADY_EXISTS', arn)
    this.#creating.add(name)
    try {
      const group =
        kmsKeyArn === undefined
          ? await this.#withServiceKey(name, arn, roleArn)
          : await this.#withCustomerKey(name, arn, kmsKeyArn, roleArn)
      this.#groups.set(name, group)
      return group
    } finally {
      this.#creating.delete(name)
    }
  }

  /**
   * The dataset group named `name` (DatasetGroupError `NOT_FOUND` otherwise).
   *
   * @example
   * ```ts
   * const group = personalize.getDatasetGroup('movies')
   * ```
   */
  getDatasetGroup(name: string): DatasetGroup {
    const group = this.#groups.get(name)
    if (!group) throw new DatasetGroupError('NOT_FOUND', String(name))
    return group
  }

  /**
   * Every dataset group, by name.
   *
   * @example
   * ```ts
   * for (const g of personalize.listDatasetGroups()) console.log(g.name, g.kmsKeyArn)
   * ```
   */
  listDatasetGroups(): DatasetGroup[] {
    return [...this.#groups.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /**
   * Delete a dataset group: its stored imports are deleted, its cached data keys wiped, and the group
   * object refuses further use (DatasetGroupError `DELETED`). The KMS key itself is not touched. The name is
   * forgotten once the imports are gone: if the store fails part-way, call it again to finish.
   *
   * @example
   * ```ts
   * await personalize.deleteDatasetGroup('movies')
   * ```
   */
  async deleteDatasetGroup(name: string): Promise<void> {
    const group = this.getDatasetGroup(name)
    await group.destroy()
    // Postcondition: forgotten only once its data is gone (so a failed deletion can be retried), and only
    // if the name was not re-created meanwhile by a concurrent deletion and creation.
    if (this.#groups.get(name) === group) this.#groups.delete(name)
  }

  async #withServiceKey(name: string, arn: string, roleArn: string | undefined): Promise<DatasetGroup> {
    // Precondition: a role only comes with a customer managed key (as in CreateDatasetGroup).
    if (roleArn !== undefined) {
      throw new ConfigurationError(
        `Dataset group ${arn}: a roleArn was given without a kmsKeyArn.`,
        'Supplying a role is only valid with a customer managed key: pass kmsKeyArn too, or drop roleArn.',
      )
    }
    if (!this.#serviceKey) {
      this.#serviceKey = validateKey(this.#serviceKms, serviceOwnedKey(this.#serviceKeyArn))
      this.#serviceKey.catch(() => {
        this.#serviceKey = undefined
      })
    }
    const summary = await this.#serviceKey
    return this.#group(name, arn, summary.arn, 'service-owned', undefined, this.#serviceKms)
  }

  async #withCustomerKey(
    name: string,
    arn: string,
    kmsKeyArn: string,
    roleArn: string | undefined,
  ): Promise<DatasetGroup> {
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
    return this.#group(name, arn, summary.arn, 'customer-managed', roleArn, client)
  }

  #group(
    name: string,
    arn: string,
    keyArn: string,
    keyOwnership: 'service-owned' | 'customer-managed',
    roleArn: string | undefined,
    client: KMSClient,
  ): DatasetGroup {
    const keyring = new KmsKeyring({ client, generatorKeyId: keyArn })
    return new DatasetGroup({
      name,
      datasetGroupArn: arn,
      kmsKeyArn: keyArn,
      keyOwnership,
      roleArn,
      envelope: new Envelope({ keyring, ...(this.#cache === undefined ? {} : { cache: this.#cache }) }),
      kmsStats: () => keyring.stats(),
      store: this.store,
      prefix: `${name}/${randomUUID()}/`,
    })
  }
}
