/**
 * A keyring over AWS KMS: data keys from GenerateDataKey, extra wrapped copies from Encrypt under each
 * additional key (multi-Region / DR), and Decrypt restricted to an allow-list of keys (strict) or of
 * accounts (discovery). Always sends the encryption context and grant tokens; every KMS failure becomes a
 * typed core error.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms'
import { clip } from '../errors/clip.js'
import {
  ConfigurationError,
  InvalidKeyError,
  KmsEnvelopeError,
  KmsThrottledError,
  KmsUnavailableError,
  TamperedCiphertextError,
  UnexpectedKmsResponseError,
} from '../errors/errors.js'
import {
  type DecryptedDataKey,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type Keyring,
  WrappingType,
} from '../keyring/types.js'
import { isKmsKeyArn, type KeyRef, tryParseKmsArn } from './key-ref.js'
import { assertSecureKmsEndpoint, createKmsClient } from './kms-client.js'
import { mapKmsError } from './map-kms-error.js'

const DATA_KEY_BYTES = 32

/** How a {@link KmsKeyring} chooses which wrapped keys it may send to KMS Decrypt. */
export type KmsDecryptMode =
  /** Only keys in `keyIds` (default: the generator and additional keys). Aliases are resolved once. */
  | { readonly mode: 'strict'; readonly keyIds?: readonly (string | KeyRef)[] }
  /** Any key ARN owned by one of `accounts` in `partition` (default `aws`). */
  | { readonly mode: 'discovery'; readonly accounts: readonly string[]; readonly partition?: string }

/** Options for {@link KmsKeyring}. Give `client`, or `region` (and optionally `endpoint`, `credentials`). */
export interface KmsKeyringOptions {
  /** The KMS client. Its endpoint must be HTTPS (or loopback HTTP); checked before the first call. */
  readonly client?: KMSClient
  /** Region for a client created for you (when `client` is not given). */
  readonly region?: string
  /** Endpoint for a client created for you. */
  readonly endpoint?: string
  /** Credentials for a client created for you. */
  readonly credentials?: KMSClientConfig['credentials']
  /** Attempts per request (including SDK retries) for a client created for you; SDK default 3. */
  readonly maxAttempts?: number
  /** Per-Region clients, used for keys whose ARN names that Region (e.g. a DR replica); others use `client`. */
  readonly clients?: Readonly<Record<string, KMSClient>>
  /** The key that generates data keys: key ARN, alias ARN, `alias/<name>` or key id. */
  readonly generatorKeyId?: string | KeyRef
  /** More keys that each wrap the same data key (Encrypt), so any one of them can decrypt. */
  readonly additionalKeyIds?: readonly (string | KeyRef)[]
  /** Grant tokens sent with every call (a grant used before it is eventually consistent). */
  readonly grantTokens?: readonly string[]
  /** Which wrapped keys may be decrypted. Default `{ mode: 'strict' }` with the generator and additional keys. */
  readonly decrypt?: KmsDecryptMode
  /**
   * Which pairs of each message's encryption context KMS binds: a list of context keys (each must be
   * present), or a function returning a subset of the context. The envelope then caches one data key per
   * value of those pairs; the other pairs (a record or contact id) are still authenticated by every message,
   * but no longer cost a GenerateDataKey (or, reading, a Decrypt) each. KMS (CloudTrail, key-policy
   * conditions) sees only the selected pairs. Default: the whole context goes to KMS and the cache keeps a
   * data key per context.
   */
  readonly kmsContext?: KmsContextSelector
}

/**
 * The part of a message's encryption context KMS binds: context keys, or a function returning a subset of
 * the context (e.g. leaving out per-object pairs only for some kinds of messages).
 *
 * @example
 * ```ts
 * const byTenant: KmsContextSelector = ['tenant']
 * const notPerImage: KmsContextSelector = ({ image, ...rest }) => rest
 * ```
 */
export type KmsContextSelector = readonly string[] | ((context: EncryptionContext) => EncryptionContext)

let selectorIds = 0

/** Counts of KMS calls a keyring made (including failed ones). */
export interface KmsKeyringStats {
  readonly generateDataKey: number
  readonly encrypt: number
  readonly decrypt: number
  readonly describeKey: number
}

const KEY_ID =
  /^(?:arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)\/.+|alias\/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/

function keyIdOf(id: string | KeyRef, what: string): string {
  const value = typeof id === 'string' ? id : id?.arn
  // Precondition: something KMS accepts as a KeyId.
  if (typeof value !== 'string' || !KEY_ID.test(value)) {
    throw new ConfigurationError(
      `${what} "${String(value)}" is not a KMS key id, key ARN, alias ARN or alias name.`,
      'Use the key ARN (arn:aws:kms:<region>:<account>:key/<id>) or an alias (alias/<name> or its ARN).',
    )
  }
  return value
}

/** The pairs of `keys`; each must be in the context. */
function pick(context: EncryptionContext, keys: readonly string[]): EncryptionContext {
  // Null prototype: a key such as "__proto__" is an own pair, not the object's prototype.
  const out: Record<string, string> = Object.create(null)
  for (const k of keys) {
    const v = context[k]
    // Precondition: every pair KMS binds is in the context.
    if (v === undefined) {
      throw new ConfigurationError(
        `The encryption context has no "${k}" pair, which this keyring sends to KMS (kmsContext).`,
        `Include ${keys.map((key) => `"${key}"`).join(', ')} in the context of every message of this keyring.`,
      )
    }
    out[k] = v
  }
  return out
}

function sortedPairs(context: EncryptionContext): [string, string][] {
  return Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

function badResponse(operation: string, keyId: string, detail: string): KmsEnvelopeError {
  return new UnexpectedKmsResponseError(operation, `${detail} (key ${keyId})`)
}

/**
 * Data keys from AWS KMS. Strict by default: decrypts only under the keys it was configured with.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms'
 * import { Envelope, KmsKeyring } from '@kms-envelope/core'
 *
 * const keyring = new KmsKeyring({
 *   client: new KMSClient({ region: 'us-east-1' }),
 *   generatorKeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
 *   additionalKeyIds: ['arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef'],
 * })
 * const envelope = new Envelope({ keyring })
 * // A reader in another account's service, trusting keys of one customer account:
 * const reader = new KmsKeyring({ region: 'us-east-1', decrypt: { mode: 'discovery', accounts: ['111122223333'] } })
 * // KMS binds the tenant; each record's id is authenticated per message, one data key serves the tenant:
 * const perTenant = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: keyArn, kmsContext: ['tenant'] }) })
 * await perTenant.encrypt(record, { context: { tenant: 'acme', recordId: 'r-1' } })
 * ```
 */
export class KmsKeyring implements Keyring {
  readonly partition: string
  readonly #client: KMSClient
  readonly #clients: Readonly<Record<string, KMSClient>>
  readonly #generator: string | undefined
  readonly #additional: readonly string[]
  readonly #grantTokens: { GrantTokens?: string[] }
  readonly #mode: 'strict' | 'discovery'
  readonly #strictIds: readonly string[]
  readonly #accounts: ReadonlySet<string>
  readonly #discoveryPartition: string
  readonly #selectKmsContext: ((context: EncryptionContext) => EncryptionContext) | undefined
  /**
   * With `kmsContext`: the part of a context the data keys depend on (so the envelope caches one per value
   * of those pairs); absent otherwise, since KMS then binds the whole context.
   */
  readonly dataKeyScope?: (context: EncryptionContext) => string
  #allowed: Promise<ReadonlySet<string>> | undefined
  #secure: Promise<void> | undefined
  #generateCalls = 0
  #encryptCalls = 0
  #decryptCalls = 0
  #describeCalls = 0

  constructor(options: KmsKeyringOptions) {
    // Precondition: options.
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError('KmsKeyring needs options.', 'Pass { client, generatorKeyId }.')
    }
    if (options.client) {
      this.#client = options.client
    } else if (options.region) {
      this.#client = createKmsClient({
        region: options.region,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
      })
    } else {
      // Precondition: a client or a region.
      throw new ConfigurationError(
        'KmsKeyring needs a KMS client or a region.',
        "Pass { client: new KMSClient({ region }) } or { region: 'us-east-1' }.",
      )
    }
    this.#clients = { ...options.clients }
    this.#generator =
      options.generatorKeyId === undefined ? undefined : keyIdOf(options.generatorKeyId, 'generatorKeyId')
    this.#additional = (options.additionalKeyIds ?? []).map((id) => keyIdOf(id, 'additionalKeyIds entry'))
    // Precondition: additional keys need a generator.
    if (this.#additional.length > 0 && this.#generator === undefined) {
      throw new ConfigurationError(
        'additionalKeyIds were given without a generatorKeyId.',
        'Set generatorKeyId: it generates the data key that the additional keys wrap.',
      )
    }
    // Precondition: each wrapping key once (a duplicate would only add a KMS call and header bytes).
    const wrapping = [...(this.#generator === undefined ? [] : [this.#generator]), ...this.#additional]
    if (new Set(wrapping).size !== wrapping.length) {
      throw new ConfigurationError(
        'The generator and additional keys contain the same key twice.',
        'List each wrapping key once.',
      )
    }
    const grants = options.grantTokens ?? []
    // Precondition: grant tokens are non-empty strings (KMS accepts at most 10).
    if (
      !Array.isArray(grants) ||
      grants.length > 10 ||
      grants.some((t) => typeof t !== 'string' || t === '')
    ) {
      throw new ConfigurationError(
        'grantTokens must be an array of at most 10 non-empty strings.',
        'Pass the GrantToken values returned by CreateGrant.',
      )
    }
    this.#grantTokens = grants.length ? { GrantTokens: [...grants] } : {}

    const decrypt = options.decrypt ?? { mode: 'strict' }
    if (decrypt.mode === 'discovery') {
      this.#mode = 'discovery'
      this.#strictIds = []
      // Precondition: discovery needs an account allow-list: never decrypt under just any key.
      if (!Array.isArray(decrypt.accounts) || decrypt.accounts.length === 0) {
        throw new ConfigurationError(
          'Discovery mode needs the accounts whose keys may be used.',
          "Pass decrypt: { mode: 'discovery', accounts: ['111122223333'] }.",
        )
      }
      for (const account of decrypt.accounts) {
        if (typeof account !== 'string' || !/^\d{12}$/.test(account)) {
          throw new ConfigurationError(
            `Discovery account "${String(account)}" is not a 12-digit AWS account id.`,
            'List account ids, not ARNs or aliases.',
          )
        }
      }
      this.#accounts = new Set(decrypt.accounts)
      this.#discoveryPartition = decrypt.partition ?? 'aws'
      // Precondition: a partition name.
      if (!/^aws(?:-[a-z]+)*$/.test(this.#discoveryPartition)) {
        throw new ConfigurationError(
          `"${this.#discoveryPartition}" is not an AWS partition.`,
          'Use aws, aws-cn, aws-us-gov, …',
        )
      }
    } else if (decrypt.mode === 'strict') {
      this.#mode = 'strict'
      this.#accounts = new Set()
      this.#discoveryPartition = ''
      this.#strictIds = decrypt.keyIds
        ? decrypt.keyIds.map((id) => keyIdOf(id, 'decrypt.keyIds entry'))
        : [...(this.#generator === undefined ? [] : [this.#generator]), ...this.#additional]
    } else {
      throw new ConfigurationError(
        `Unknown decrypt mode "${String((decrypt as { mode?: unknown }).mode)}".`,
        "Use { mode: 'strict' } or { mode: 'discovery', accounts: [...] }.",
      )
    }
    // Precondition: the keyring can do something.
    if (this.#generator === undefined && this.#mode === 'strict' && this.#strictIds.length === 0) {
      throw new ConfigurationError(
        'KmsKeyring has no generator key and no keys to decrypt with.',
        'Set generatorKeyId, or decrypt.keyIds, or use discovery mode.',
      )
    }
    const selector = options.kmsContext
    let selectorId: string | null = null
    if (typeof selector === 'function') {
      this.#selectKmsContext = selector
      selectorId = `fn#${++selectorIds}`
    } else if (selector !== undefined) {
      // Precondition: distinct, non-empty context keys (at least one: KMS must bind something).
      if (
        !Array.isArray(selector) ||
        selector.length === 0 ||
        selector.some((k) => typeof k !== 'string' || k.length === 0) ||
        new Set(selector).size !== selector.length
      ) {
        throw new ConfigurationError(
          'kmsContext must be a non-empty list of distinct, non-empty context keys, or a function.',
          "List the pairs KMS should bind, e.g. kmsContext: ['tenant'].",
        )
      }
      const keys: readonly string[] = [...selector]
      this.#selectKmsContext = (context) => pick(context, keys)
      selectorId = JSON.stringify(keys)
    }
    if (this.#selectKmsContext !== undefined) {
      this.dataKeyScope = (context) => JSON.stringify(sortedPairs(this.#kmsContext(context)))
    }
    this.partition = `kms:${JSON.stringify([
      this.#generator ?? null,
      this.#additional,
      this.#mode,
      this.#strictIds,
      [...this.#accounts].sort(),
      this.#discoveryPartition,
      selectorId,
    ])}`
  }

  /** The encryption context sent to KMS: all of it, or the pairs `kmsContext` selects. */
  #kmsContext(context: EncryptionContext): Record<string, string> {
    const select = this.#selectKmsContext
    if (select === undefined) return { ...context }
    const selected = select(context)
    // Postcondition: only pairs of the message's own context (every pair KMS binds is also in the header).
    for (const [k, v] of Object.entries(selected ?? {})) {
      if (context[k] !== v) {
        throw new ConfigurationError(
          `kmsContext selected the pair "${k}", which is not in the message's encryption context.`,
          'Return a subset of the context given to the kmsContext function.',
        )
      }
    }
    return { ...selected }
  }

  /** How many KMS calls this keyring made. */
  stats(): KmsKeyringStats {
    return {
      generateDataKey: this.#generateCalls,
      encrypt: this.#encryptCalls,
      decrypt: this.#decryptCalls,
      describeKey: this.#describeCalls,
    }
  }

  /** GenerateDataKey under the generator, then Encrypt the same key under each additional key. */
  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const generator = this.#generator
    // Precondition: a generator key.
    if (generator === undefined) {
      throw new ConfigurationError(
        'This KmsKeyring has no generatorKeyId, so it can only decrypt.',
        'Set generatorKeyId to encrypt.',
      )
    }
    await this.#checkEndpoints()
    const EncryptionContext = this.#kmsContext(context)
    let out: { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array; KeyId?: string }
    this.#generateCalls++
    try {
      out = await this.#clientFor(generator).send(
        new GenerateDataKeyCommand({
          KeyId: generator,
          KeySpec: 'AES_256',
          EncryptionContext,
          ...this.#grantTokens,
        }),
      )
    } catch (err) {
      throw mapKmsError(err, { operation: 'GenerateDataKey', keyId: generator })
    }
    const plaintext = out.Plaintext
    try {
      // Postcondition: a 32-byte data key, its wrapped copy, and the ARN of the key KMS used.
      if (plaintext?.length !== DATA_KEY_BYTES)
        throw badResponse('GenerateDataKey', generator, 'no 32-byte data key')
      if (!out.CiphertextBlob?.length) throw badResponse('GenerateDataKey', generator, 'no CiphertextBlob')
      if (!out.KeyId || !isKmsKeyArn(out.KeyId)) throw badResponse('GenerateDataKey', generator, 'no key ARN')
      // Postcondition: when the generator is a key ARN, KMS used exactly that key.
      if (isKmsKeyArn(generator) && out.KeyId !== generator) {
        throw badResponse('GenerateDataKey', generator, `KMS used ${out.KeyId}`)
      }
      const edks: EncryptedDataKey[] = [
        { type: WrappingType.AwsKms, keyId: out.KeyId, blob: out.CiphertextBlob },
      ]
      // All settle before any failure is reported, so the plaintext is wiped only when no request uses it.
      const wrapped = await Promise.allSettled(
        this.#additional.map((keyId) => this.#wrap(keyId, plaintext, EncryptionContext)),
      )
      for (const result of wrapped) {
        if (result.status === 'rejected') throw result.reason
        edks.push(result.value)
      }
      return { plaintextKey: plaintext, encryptedDataKeys: edks }
    } catch (err) {
      plaintext?.fill(0)
      throw err
    }
  }

  async #wrap(
    keyId: string,
    plaintext: Uint8Array,
    EncryptionContext: Record<string, string>,
  ): Promise<EncryptedDataKey> {
    let out: { CiphertextBlob?: Uint8Array; KeyId?: string }
    this.#encryptCalls++
    try {
      out = await this.#clientFor(keyId).send(
        new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext, ...this.#grantTokens }),
      )
    } catch (err) {
      throw mapKmsError(err, { operation: 'Encrypt', keyId })
    }
    // Postcondition: a wrapped copy and the ARN of the key KMS used.
    if (!out.CiphertextBlob?.length) throw badResponse('Encrypt', keyId, 'no CiphertextBlob')
    if (!out.KeyId || !isKmsKeyArn(out.KeyId)) throw badResponse('Encrypt', keyId, 'no key ARN')
    if (isKmsKeyArn(keyId) && out.KeyId !== keyId)
      throw badResponse('Encrypt', keyId, `KMS used ${out.KeyId}`)
    return { type: WrappingType.AwsKms, keyId: out.KeyId, blob: out.CiphertextBlob }
  }

  /** Decrypt the first allowed wrapped key that KMS accepts; the error of the most useful failure otherwise. */
  async decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    const candidates = await this.#allowedEdks(encryptedDataKeys)
    // Precondition: at least one wrapped key this keyring may use (no KMS call otherwise).
    if (candidates.length === 0) throw this.#notAllowed(encryptedDataKeys)
    await this.#checkEndpoints()
    const EncryptionContext = this.#kmsContext(context)
    const errors: KmsEnvelopeError[] = []
    for (const edk of candidates) {
      try {
        return { plaintextKey: await this.#unwrap(edk, EncryptionContext), encryptedDataKey: edk }
      } catch (err) {
        errors.push(
          err instanceof KmsEnvelopeError
            ? err
            : mapKmsError(err, { operation: 'Decrypt', keyId: edk.keyId }),
        )
      }
    }
    // A compact message names no key: if every listed key was the wrong one, say the key is not in the list.
    const unnamed = encryptedDataKeys.some((e) => e.type === WrappingType.AwsKms && e.keyId === '')
    if (unnamed && errors.every((e) => e instanceof InvalidKeyError && e.reason === 'INCORRECT_KEY')) {
      const notAllowed = this.#notAllowed(encryptedDataKeys)
      notAllowed.cause = errors[0]
      throw notAllowed
    }
    // A transient failure is the useful one (a retry may succeed); otherwise the first key's error.
    throw errors.find((e) => e instanceof KmsThrottledError || e instanceof KmsUnavailableError) ?? errors[0]!
  }

  async #unwrap(edk: EncryptedDataKey, EncryptionContext: Record<string, string>): Promise<Uint8Array> {
    let out: { Plaintext?: Uint8Array; KeyId?: string }
    this.#decryptCalls++
    try {
      out = await this.#clientFor(edk.keyId).send(
        new DecryptCommand({
          CiphertextBlob: edk.blob,
          EncryptionContext,
          KeyId: edk.keyId,
          ...this.#grantTokens,
        }),
      )
    } catch (err) {
      throw mapKmsError(err, { operation: 'Decrypt', keyId: edk.keyId })
    }
    const plaintext = out.Plaintext
    // Postcondition: KMS decrypted with exactly the key named in the message.
    if (out.KeyId !== edk.keyId) {
      plaintext?.fill(0)
      throw new InvalidKeyError(
        edk.keyId,
        'INCORRECT_KEY',
        `KMS decrypted with ${out.KeyId ?? '(no key id)'} instead`,
        'Check that the endpoint is AWS KMS (or a faithful emulator).',
      )
    }
    // Postcondition: a 32-byte data key.
    if (plaintext?.length !== DATA_KEY_BYTES) {
      plaintext?.fill(0)
      throw new TamperedCiphertextError(
        `The data key wrapped under ${edk.keyId} did not decrypt to 32 bytes.`,
      )
    }
    return plaintext
  }

  async #allowedEdks(edks: readonly EncryptedDataKey[]): Promise<EncryptedDataKey[]> {
    const kms = edks.filter((e) => e.type === WrappingType.AwsKms)
    if (this.#mode === 'discovery') {
      return kms.filter((e) => {
        const arn = tryParseKmsArn(e.keyId)
        return (
          arn !== undefined &&
          arn.resourceType === 'key' &&
          arn.partition === this.#discoveryPartition &&
          this.#accounts.has(arn.accountId)
        )
      })
    }
    if (kms.length === 0) return []
    const allowed = await this.#allowedArns()
    // A compact message does not name its KMS key (keyId ''): try every key of the strict list, in order;
    // KMS refuses a blob under another key (IncorrectKeyException), so the first that works is the one.
    return kms.flatMap((e) =>
      e.keyId === '' ? [...allowed].map((keyId) => ({ ...e, keyId })) : allowed.has(e.keyId) ? [e] : [],
    )
  }

  /** The strict allow-list as key ARNs: aliases and bare key ids are resolved once with DescribeKey. */
  #allowedArns(): Promise<ReadonlySet<string>> {
    if (!this.#allowed) {
      const resolve = async (id: string): Promise<string> => {
        if (isKmsKeyArn(id)) return id
        await this.#checkEndpoints()
        this.#describeCalls++
        try {
          const { KeyMetadata } = await this.#clientFor(id).send(
            new DescribeKeyCommand({ KeyId: id, ...this.#grantTokens }),
          )
          // Postcondition: KMS named the key.
          if (!KeyMetadata?.Arn) throw badResponse('DescribeKey', id, 'no key ARN')
          return KeyMetadata.Arn
        } catch (err) {
          throw mapKmsError(err, { operation: 'DescribeKey', keyId: id })
        }
      }
      this.#allowed = Promise.all(this.#strictIds.map(resolve)).then((arns) => new Set(arns))
      // A failed resolution is retried on the next decrypt.
      this.#allowed.catch(() => {
        this.#allowed = undefined
      })
    }
    return this.#allowed
  }

  #notAllowed(edks: readonly EncryptedDataKey[]): InvalidKeyError {
    const ids = edks.map((e) =>
      e.type !== WrappingType.AwsKms
        ? `${clip(e.keyId)} (not KMS)`
        : e.keyId === ''
          ? 'an unnamed KMS key'
          : clip(e.keyId),
    )
    const allowList =
      this.#mode === 'discovery'
        ? `keys of accounts ${[...this.#accounts].join(', ')} in partition ${this.#discoveryPartition}`
        : this.#strictIds.join(', ')
    return new InvalidKeyError(
      edks.find((e) => e.type === WrappingType.AwsKms)?.keyId,
      'NOT_ALLOWED',
      `the message is wrapped under [${ids.join(', ')}], and this keyring (${this.#mode}) allows only ${allowList}`,
      this.#mode === 'discovery'
        ? edks.some((e) => e.type === WrappingType.AwsKms && e.keyId === '')
          ? 'A compact message does not name its KMS key, so discovery cannot vet it: decrypt it with a strict keyring that lists the key.'
          : 'Add the owning account to decrypt.accounts if you trust it, or decrypt with a keyring for that key.'
        : 'Add the key ARN to decrypt.keyIds (or additionalKeyIds) if you trust it, or decrypt with a keyring for that key.',
    )
  }

  #clientFor(keyId: string): KMSClient {
    const region = tryParseKmsArn(keyId)?.region
    return (region !== undefined ? this.#clients[region] : undefined) ?? this.#client
  }

  #checkEndpoints(): Promise<void> {
    this.#secure ??= Promise.all(
      [this.#client, ...Object.values(this.#clients)].map((c) => assertSecureKmsEndpoint(c)),
    ).then(() => undefined)
    return this.#secure
  }
}
