/**
 * Which KMS key protects a project or collection, and the envelope that uses it. A customer managed key
 * when the caller gives one, else the service's own key; either must pass core's validateKey (exists,
 * Enabled, SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, expected owner). There is no "no encryption" choice.
 *
 * The choice is kept in a metadata record (`project.kenv`, `collection.kenv`) sealed by the service: a
 * kms-envelope message under the service's own key whose encryption context names the resource and the
 * record's purpose (stored in the header, authenticated, sent to KMS). Only the service can write a record
 * that opens, and a record opens only as the resource it was written for, so write access to the storage
 * cannot point a project or collection at another key.
 */
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  customerManagedKey,
  type EncryptionContext,
  EncryptionContextMismatchError,
  Envelope,
  type EnvelopeOptions,
  isKmsKeyArn,
  type KeyOwnership,
  KmsKeyring,
  SealedRecordError,
  SealedRecords,
  validateKey,
} from '@kms-envelope/core'
import { VisionNotFoundError, VisionRecordError } from './errors.js'
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

/**
 * Pick and validate the key for a new project or collection: the customer's if given, else the service's.
 * The service key is validated either way (it seals the record); the customer's key first, so that a bad
 * key the caller passed is what is reported.
 */
async function chooseKey(config: VisionServiceConfig, kmsKeyArn: string | undefined): Promise<ProtectionKey> {
  const grantTokens = grantTokensOf(config)
  // Precondition: a symmetric, enabled key in the account named by its ARN.
  const customer =
    kmsKeyArn === undefined
      ? undefined
      : await validateKey(config.kms, customerManagedKey(kmsKeyArn), grantTokens)
  const service = await recordSealer(config).key()
  return customer
    ? { keyArn: customer.arn, keyKind: 'customer-managed' }
    : { keyArn: service.arn, keyKind: 'service-owned' }
}

/**
 * Re-validate the key an authentic record names for an existing project or collection. A service-owned
 * record names the service key that sealed it (checked when it was opened). When the caller pins
 * `expectedKeyArn` (a key or alias ARN), the record must name that customer key.
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
        'Pass the key ARN the resource was created with.',
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
  // The service key was validated before the record was opened.
  if (recorded.keyKind === 'service-owned') return { keyArn: recorded.keyArn, keyKind: 'service-owned' }
  const summary = await validateKey(config.kms, customerManagedKey(recorded.keyArn), grantTokens)
  return { keyArn: summary.arn, keyKind: 'customer-managed' }
}

function grantTokensOf(config: VisionServiceConfig): { grantTokens?: readonly string[] } {
  return config.grantTokens ? { grantTokens: config.grantTokens } : {}
}

/**
 * The sealers of records, per KMS client, by service key and grant tokens: resources are opened with a new
 * config object each time (`{ ...service, name }`), so the sealer (and its one validation of the service
 * key) is kept with the client. Weak: a client no longer used takes its sealers with it.
 */
const sealers = new WeakMap<KMSClient, Map<string, SealedRecords>>()

/**
 * Records sealed under the service key only (strict), a fresh data key per record. The service key is
 * validated (DescribeKey) on first use per client, key and grant tokens, not on every open: a key disabled
 * since then is refused by KMS at the Decrypt or GenerateDataKey (KeyDisabledError, as before).
 */
function recordSealer(config: VisionServiceConfig): SealedRecords {
  // Precondition: the service's own key is configured (it is the default; encryption is never off).
  if (typeof config?.serviceKeyArn !== 'string' || config.serviceKeyArn === '') {
    throw new ConfigurationError(
      'No serviceKeyArn: the service needs its own KMS key for resources without a customer key.',
      'Pass serviceKeyArn (a symmetric key in the service account); encryption cannot be turned off.',
    )
  }
  // Precondition: a KMS client (the sealer is kept with it).
  if (typeof config.kms?.send !== 'function') {
    throw new ConfigurationError('kms must be a KMSClient.', 'Pass the service’s KMSClient as kms.')
  }
  let byKey = sealers.get(config.kms)
  if (!byKey) {
    byKey = new Map()
    sealers.set(config.kms, byKey)
  }
  const id = JSON.stringify([config.serviceKeyArn, config.grantTokens ?? []])
  let sealer = byKey.get(id)
  if (!sealer) {
    sealer = new SealedRecords({ kms: config.kms, keyArn: config.serviceKeyArn, ...grantTokensOf(config) })
    byKey.set(id, sealer)
  }
  return sealer
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

/** @internal What every resource metadata record holds besides its own fields: its key and creation time. */
export interface ResourceRecord extends ProtectionKey {
  readonly createdAt: string
}

/** @internal A project or collection: the context key naming it (as in its objects' contexts), its id, its record's path. */
export interface ResourceId {
  readonly kind: 'project' | 'collection'
  readonly id: string
  /** Storage key of its sealed metadata record. */
  readonly path: string
}

const describe = (r: ResourceId) => `${r.kind} ${r.id}`

/**
 * @internal The exact encryption context of a resource's metadata record: `{project: <name>, object:
 * 'project-record'}` or `{collection: <id>, object: 'collection-record'}`. The resource's objects carry
 * another `object` (image, manifest, model, face), and records are opened with this exact context, so
 * neither opens as the other.
 */
export function recordContext(resource: Pick<ResourceId, 'kind' | 'id'>): EncryptionContext {
  return { [resource.kind]: resource.id, object: `${resource.kind}-record` }
}

/**
 * @internal Create a resource's metadata record: refuse an existing one (`hint` says how to proceed),
 * choose and validate its key, then seal the record (one GenerateDataKey under the service key) and store it.
 */
export async function createResource<T extends ResourceRecord>(
  config: VisionServiceConfig,
  resource: ResourceId,
  hint: string,
  kmsKeyArn: string | undefined,
  fields: Omit<T, keyof ResourceRecord>,
): Promise<{ record: T; key: ProtectionKey }> {
  const what = describe(resource)
  // Precondition: a new resource.
  if (await config.storage.has(resource.path)) {
    throw new ConfigurationError(`${what[0]!.toUpperCase()}${what.slice(1)} already exists.`, hint)
  }
  const key = await chooseKey(config, kmsKeyArn)
  const record = {
    ...fields,
    keyArn: key.keyArn,
    keyKind: key.keyKind,
    createdAt: new Date().toISOString(),
  } as T
  const sealed = await recordSealer(config).seal(record, recordContext(resource))
  await config.storage.put(resource.path, sealed)
  return { record, key }
}

/**
 * @internal Open a resource's metadata record (VisionNotFoundError if there is none): validate the service
 * key (DescribeKey, once per client: {@link recordSealer}), authenticate the record under it with its exact context (Decrypt; VisionRecordError if
 * it is not an authentic record of exactly this resource), check its fields, and validate the key it names
 * again ({@link reopenKey}).
 */
export async function openResource<T extends ResourceRecord>(
  config: VisionServiceConfig,
  resource: ResourceId,
  check: (v: T) => boolean,
  expectedKeyArn: string | undefined,
): Promise<{ record: T; key: ProtectionKey }> {
  const what = describe(resource)
  let bytes: Uint8Array
  try {
    bytes = await config.storage.get(resource.path)
  } catch (err) {
    if (err instanceof VisionNotFoundError) throw new VisionNotFoundError(what, { cause: err })
    throw err
  }
  const sealer = recordSealer(config)
  const service = await sealer.key()
  const record = await openRecord<T>(sealer, bytes, resource, service.arn, check)
  return { record, key: await reopenKey(config, record, expectedKeyArn) }
}

async function openRecord<T extends ResourceRecord>(
  sealer: SealedRecords,
  bytes: Uint8Array,
  resource: ResourceId,
  serviceKeyArn: string,
  check: (v: T) => boolean,
): Promise<T> {
  const what = describe(resource)
  let value: unknown
  try {
    // Precondition: the exact context of this resource's record (checked before any KMS call), then
    // authentication of the whole message under the service key only (strict keyring).
    value = await sealer.open(bytes, recordContext(resource))
  } catch (err) {
    // KMS errors about the service key (disabled, access denied, …) are not about the record: they pass through.
    if (!(err instanceof SealedRecordError)) throw err
    // The cause stays the core error that decided (EncryptionContextMismatchError, TamperedCiphertextError…).
    const options = { cause: err.cause }
    if (err.reason === 'OTHER_CONTEXT')
      throw new VisionRecordError('OTHER_RESOURCE', what, sealedFor(err), options)
    if (err.reason === 'TAMPERED') throw new VisionRecordError('TAMPERED', what, sealedUnder(err), options)
    throw new VisionRecordError('INVALID', what, 'its plaintext is not JSON', options)
  }
  const invalid = (detail: string) => new VisionRecordError('INVALID', what, detail)
  const r = value as Partial<ResourceRecord> | null
  // Postcondition: an authentic record describes exactly this resource, with usable fields.
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalid('it is not an object')
  if (!isKmsKeyArn(r.keyArn)) throw invalid('no KMS key ARN')
  if (r.keyKind === 'service-owned') {
    if (r.keyArn !== serviceKeyArn) throw invalid(`service key ${r.keyArn} is not the one that sealed it`)
  } else if (r.keyKind !== 'customer-managed') {
    throw invalid('unknown key kind')
  }
  if (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt)))
    throw invalid('no creation time')
  if (!check(r as T)) throw invalid('its fields do not describe it')
  return r as T
}

/** Which resource a record sealed for another context names (from its unauthenticated header). */
function sealedFor(err: SealedRecordError): string {
  const context = err.sealedFor ?? {}
  const owner =
    context.project !== undefined
      ? `project ${context.project}`
      : context.collection !== undefined
        ? `collection ${context.collection}`
        : undefined
  if (owner !== undefined) return `it is sealed for ${owner} (${context.object ?? 'no object'})`
  const key = err.cause instanceof EncryptionContextMismatchError ? err.cause.key : '?'
  return `its context differs on "${key}"`
}

/** Which KMS key a record that did not authenticate names (from its header), for the message. */
function sealedUnder(err: SealedRecordError): string {
  if (err.sealedFor === undefined) return 'it is not a kms-envelope message'
  return err.sealedUnder.length
    ? `its data key is wrapped under ${err.sealedUnder.join(', ')}`
    : 'it names no KMS key'
}
