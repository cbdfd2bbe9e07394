/**
 * Which KMS key protects a project or collection, and the envelope that uses it. A customer managed key
 * when the caller gives one, else the service's own key; either must pass core's validateKey (exists,
 * Enabled, SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, expected owner). There is no "no encryption" choice.
 */
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  customerManagedKey,
  type EncryptionContext,
  Envelope,
  type EnvelopeOptions,
  type KeyOwnership,
  KmsKeyring,
  serviceOwnedKey,
  validateKey,
} from '@kms-envelope/core'
import { VisionNotFoundError } from './errors.js'
import type { VisionStorage } from './storage.js'

/**
 * What every project and collection needs: the KMS client, the storage, and the service's own key (the
 * counterpart of the AWS owned key Lookout for Vision and Rekognition use by default). Build it once and
 * spread it into `VisionProject.create` / `FaceCollection.create`.
 *
 * @example
 * ```ts
 * import { FileStorage, type VisionServiceConfig } from '@kms-envelope/vision'
 * const service: VisionServiceConfig = {
 *   kms: new KMSClient({ region: 'us-east-1' }),
 *   storage: new FileStorage({ directory: '/var/lib/vision' }),
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab',
 * }
 * ```
 */
export interface VisionServiceConfig {
  /** The KMS client the service calls KMS with (its principal needs DescribeKey, GenerateDataKey, Decrypt). */
  readonly kms: KMSClient
  /** Where the encrypted copies, manifests, models and face records go. */
  readonly storage: VisionStorage
  /** The service's own symmetric KMS key (key ARN or alias ARN): used when no customer key is given. */
  readonly serviceKeyArn: string
  /** Grant tokens sent with every KMS call (a customer key used through a fresh grant). */
  readonly grantTokens?: readonly string[]
  /**
   * Data-key cache limits (core's). With the cache on (the default), the images of one dataset share a data
   * key, and so do the faces of one collection, within these limits (age, messages and bytes per data key).
   * `false`: one data key per object (one GenerateDataKey each, the object named in the KMS context) and no
   * cached plaintext keys.
   */
  readonly cache?: EnvelopeOptions['cache']
}

/**
 * The key protecting a project or collection, as recorded in its metadata.
 *
 * @example
 * ```ts
 * const { keyArn, keyKind }: ProtectionKey = project
 * ```
 */
export interface ProtectionKey {
  /** Key ARN (an alias is resolved at creation). */
  readonly keyArn: string
  /** `customer-managed` when the customer chose the key, else `service-owned`. */
  readonly keyKind: KeyOwnership
}

/** Pick and validate the key for a new project or collection: the customer's if given, else the service's. */
async function chooseKey(config: VisionServiceConfig, kmsKeyArn?: string): Promise<ProtectionKey> {
  const ref = kmsKeyArn === undefined ? serviceKey(config) : customerManagedKey(kmsKeyArn)
  // Precondition: a symmetric, enabled key in the account named by its ARN.
  const summary = await validateKey(config.kms, ref, grantTokensOf(config))
  return { keyArn: summary.arn, keyKind: ref.kind }
}

/**
 * Re-validate the key recorded for an existing project or collection. A recorded service-owned key
 * must be in the service key's account, so an edited metadata file cannot point the service at a key of
 * someone else's. When the caller pins `expectedKeyArn` (a key or alias ARN), the record must name that
 * customer key: an edited record can neither swap it nor downgrade it to the service key.
 */
async function reopenKey(
  config: VisionServiceConfig,
  recorded: ProtectionKey,
  expectedKeyArn: string | undefined,
): Promise<ProtectionKey> {
  const grantTokens = grantTokensOf(config)
  if (expectedKeyArn !== undefined) {
    const expected = customerManagedKey(expectedKeyArn)
    const mismatch = () =>
      new ConfigurationError(
        `The stored metadata names the ${recorded.keyKind} KMS key ${recorded.keyArn}, not ${expectedKeyArn}.`,
        'Check that the metadata was not edited, or pass the key ARN the resource was created with.',
      )
    // Precondition: the record names the pinned customer key (an alias is compared once resolved, below).
    if (
      recorded.keyKind !== 'customer-managed' ||
      (expected.resourceType === 'key' && expected.arn !== recorded.keyArn)
    ) {
      throw mismatch()
    }
    const summary = await validateKey(config.kms, expected, grantTokens)
    // Postcondition: the pinned key (an alias resolved by DescribeKey) is the recorded one.
    if (summary.arn !== recorded.keyArn) throw mismatch()
    return { keyArn: summary.arn, keyKind: 'customer-managed' }
  }
  if (recorded.keyKind === 'service-owned') {
    const expectedAccountId = serviceKey(config).accountId
    const summary = await validateKey(config.kms, serviceOwnedKey(recorded.keyArn), {
      ...grantTokens,
      expectedAccountId,
    })
    return { keyArn: summary.arn, keyKind: 'service-owned' }
  }
  const summary = await validateKey(config.kms, customerManagedKey(recorded.keyArn), grantTokens)
  return { keyArn: summary.arn, keyKind: 'customer-managed' }
}

function grantTokensOf(config: VisionServiceConfig): { grantTokens?: readonly string[] } {
  return config.grantTokens ? { grantTokens: config.grantTokens } : {}
}

function serviceKey(config: VisionServiceConfig) {
  // Precondition: the service's own key is configured (it is the default; encryption is never off).
  if (typeof config?.serviceKeyArn !== 'string' || config.serviceKeyArn === '') {
    throw new ConfigurationError(
      'No serviceKeyArn: the service needs its own KMS key for resources without a customer key.',
      'Pass serviceKeyArn (a symmetric key in the service account); encryption cannot be turned off.',
    )
  }
  return serviceOwnedKey(config.serviceKeyArn)
}

/**
 * @internal The context pair that marks a message whose data key is shared: `per-dataset` for the images
 * of one dataset, `per-collection` for the faces of one collection. Such a message names its object (image
 * path, face id) in its own authenticated context, but KMS binds only the rest ({@link kmsContext}), so one
 * GenerateDataKey (and one Decrypt) serves many objects, as with S3 Bucket Keys.
 */
export const SHARED_DATA_KEY = 'data-key'

/** Pairs that name one object: authenticated by the message, not sent to KMS when the data key is shared. */
const PER_OBJECT_PAIRS: readonly string[] = ['image', 'faceId']

/**
 * @internal The part of a message's context that goes to KMS (and that its data key depends on): the whole
 * context, except that a message marked {@link SHARED_DATA_KEY} leaves out its per-object pairs.
 */
export function kmsContext(context: EncryptionContext): EncryptionContext {
  if (context[SHARED_DATA_KEY] === undefined) return context
  const bound: Record<string, string> = { ...context }
  for (const pair of PER_OBJECT_PAIRS) delete bound[pair]
  return bound
}

/**
 * @internal An envelope whose data keys come from exactly this KMS key (strict decrypt); `keyring` is the
 * KMS keyring (for its call counts), `shared` says whether objects marked {@link SHARED_DATA_KEY} share a
 * data key (the cache is on).
 */
export function envelopeFor(
  config: VisionServiceConfig,
  key: ProtectionKey,
): { envelope: Envelope; keyring: KmsKeyring; shared: boolean } {
  // KMS binds kmsContext(): a shared-key message leaves its per-object pairs out, so core's envelope caches
  // one data key per dataset or collection; every pair is still authenticated by each message.
  const keyring = new KmsKeyring({
    client: config.kms,
    generatorKeyId: key.keyArn,
    kmsContext,
    ...grantTokensOf(config),
  })
  const envelope = new Envelope({
    keyring,
    ...(config.cache === undefined ? {} : { cache: config.cache }),
  })
  return { envelope, keyring, shared: config.cache !== false }
}

/** Read a resource's metadata file (non-secret JSON: names and the key ARN). */
function parseRecord<T extends object>(bytes: Uint8Array, what: string, check: (v: T) => boolean): T {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (err) {
    throw new ConfigurationError(`The metadata of ${what} is not JSON.`, 'Restore it from a backup.', {
      cause: err,
    })
  }
  // Postcondition: the fields this package wrote.
  if (typeof value !== 'object' || value === null || !check(value as T)) {
    throw new ConfigurationError(`The metadata of ${what} is malformed.`, 'Restore it from a backup.')
  }
  return value as T
}

/** @internal What every resource metadata file records besides its own fields: its key and creation time. */
export interface ResourceRecord extends ProtectionKey {
  readonly createdAt: string
}

/**
 * @internal Create a resource's metadata file: refuse an existing one (`what` names it, `hint` says how to
 * proceed), choose and validate its key, then write the record `build` makes with that key.
 */
export async function createResource<T extends ResourceRecord>(
  config: VisionServiceConfig,
  path: string,
  what: string,
  hint: string,
  kmsKeyArn: string | undefined,
  fields: Omit<T, keyof ResourceRecord>,
): Promise<{ record: T; key: ProtectionKey }> {
  // Precondition: a new resource.
  if (await config.storage.has(path)) throw new ConfigurationError(`${what} already exists.`, hint)
  const key = await chooseKey(config, kmsKeyArn)
  const record = {
    ...fields,
    keyArn: key.keyArn,
    keyKind: key.keyKind,
    createdAt: new Date().toISOString(),
  } as T
  await config.storage.put(path, Buffer.from(`${JSON.stringify(record, null, 2)}\n`))
  return { record, key }
}

/**
 * @internal Read a resource's metadata file (VisionNotFoundError naming `what` if there is none), check its
 * fields, and validate its key again ({@link reopenKey}).
 */
export async function openResource<T extends ProtectionKey>(
  config: VisionServiceConfig,
  path: string,
  what: string,
  check: (v: T) => boolean,
  expectedKeyArn: string | undefined,
): Promise<{ record: T; key: ProtectionKey }> {
  let bytes: Uint8Array
  try {
    bytes = await config.storage.get(path)
  } catch (err) {
    if (err instanceof VisionNotFoundError) throw new VisionNotFoundError(what, { cause: err })
    throw err
  }
  const record = parseRecord<T>(
    bytes,
    what,
    (r) =>
      typeof r.keyArn === 'string' &&
      (r.keyKind === 'service-owned' || r.keyKind === 'customer-managed') &&
      check(r),
  )
  return { record, key: await reopenKey(config, record, expectedKeyArn) }
}
