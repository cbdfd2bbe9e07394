/**
 * Amazon Connect's encryption at rest as a policy over kms-envelope: which key protects which data class,
 * and which context binds each record to its owner. Core does the crypto, caching, format and KMS calls.
 */
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  type CacheStats,
  ConfigurationError,
  type DecryptStream,
  type EncryptStream,
  Envelope,
  KeyHierarchy,
  type KeySummary,
  KmsKeyring,
  type KmsKeyringStats,
  serviceOwnedKey,
  validateKey,
} from '@kms-envelope/core'
import {
  ACCOUNT_KEY,
  assertResourceId,
  type ConnectDataClass,
  DATA_CLASS_KEY,
  integrationContext,
  KEY_SCOPE_KEY,
  PII_SCOPE_PREFIX,
  piiContext,
  recordingContext,
  voiceprintContext,
} from './binding.js'
import {
  type ConnectDataProtectionOptions,
  DEFAULT_INTEGRATION_KEY_WINDOW_MS,
  DEFAULT_PII_KEY_WINDOW_MS,
} from './options.js'
import { byteCounter, type RecordingProgress } from './progress.js'

/**
 * Options of {@link ConnectDataProtection.sealRecording} and {@link ConnectDataProtection.encryptRecording}.
 *
 * @example
 * ```ts
 * const options: RecordingOptions = { plaintextLength: size, onProgress: (p) => bar.update(p.plaintextBytes / size) }
 * ```
 */
export interface RecordingOptions {
  /**
   * Total plaintext length, when known (an upload of a finished file): the recording then shares the
   * account's cached data key (whatever its contact). Unknown (a live stream): the recording gets a data key
   * of its own (one KMS call), still bound to the account in KMS and to its contact in its header. A source
   * longer than this fails with LimitExceededError (discard what was written).
   */
  readonly plaintextLength?: number
  /** Plaintext bytes per frame (default core's 1 MiB). Memory use is about one frame. */
  readonly frameLength?: number
  /** Called as bytes go through the pipeline. */
  readonly onProgress?: (progress: RecordingProgress) => void
}

/**
 * The keys a {@link ConnectDataProtection} resolved and validated at creation.
 *
 * @example
 * ```ts
 * const { serviceKey, recordingKey }: ConnectKeys = connect.keys
 * console.log(serviceKey.arn, recordingKey.kind)
 * ```
 */
export interface ConnectKeys {
  /** The service-owned key: root of the PII and integration scope keys, key of voiceprints. */
  readonly serviceKey: KeySummary
  /** The key of recordings' data keys (the service key unless a recording key was given). */
  readonly recordingKey: KeySummary
}

/**
 * Cache and KMS counters per data class.
 *
 * @example
 * ```ts
 * const stats: ConnectStats = connect.stats()
 * console.log(stats.contactPii.hits, stats.recordings.kms.generateDataKey)
 * ```
 */
export interface ConnectStats {
  readonly contactPii: CacheStats
  readonly integrationConfig: CacheStats
  readonly recordings: CacheStats & { readonly kms: KmsKeyringStats }
  readonly voiceprints: CacheStats & { readonly kms: KmsKeyringStats }
}

/**
 * Amazon Connect data protection at rest, as the Connect documentation describes it:
 *
 * | data class | key | binding |
 * |---|---|---|
 * | contact PII | a scope key per instance (`connect-pii/<instance>`), a new version every key window (1 h) | instance + contact (context) |
 * | recordings | a KMS data key per customer account (KMS context `{ account }`), under the recording key | account (in KMS) + contact (context) |
 * | voiceprints | KMS data keys under the service-owned key | Voice ID domain + speaker (context, also in KMS) |
 * | integration config | a scope key per user account (`connect-integration/<account>`), a new version every window (1 day) | account + integration (context) |
 *
 * The contact and integration pairs do not split the keys' caches: every record of an instance (or
 * account) shares one cached key per window, and every recording of an account one cached data key,
 * whatever its contact (or integration).
 *
 * Build it with {@link ConnectDataProtection.create}, which validates the keys first.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms'
 * import { FileKeyStore } from '@kms-envelope/core'
 * import { ConnectDataProtection } from '@kms-envelope/connect'
 *
 * const connect = await ConnectDataProtection.create({
 *   kms: new KMSClient({ region: 'us-east-1' }),
 *   serviceKeyArn: 'arn:aws:kms:us-east-1:444455556666:alias/connect-service',
 *   store: new FileKeyStore({ directory: '/var/lib/connect/scope-keys' }),
 * })
 * const ct = await connect.encryptContactPii('i-123', 'contact-1', { caller: '+1 555 0100' })
 * const pii = await connect.decryptContactPii('i-123', 'contact-1', ct)
 * ```
 */
export class ConnectDataProtection {
  /** The per-instance contact PII key hierarchy (admin: rotate, destroyScope, audit, rewrap). */
  readonly piiKeys: KeyHierarchy
  /** The per-user-account integration configuration key hierarchy. */
  readonly integrationKeys: KeyHierarchy
  /** The validated service and recording keys. */
  readonly keys: ConnectKeys
  readonly #pii: Envelope
  readonly #integration: Envelope
  readonly #recordings: Envelope
  readonly #voiceprints: Envelope
  readonly #recordingKms: KmsKeyring
  readonly #voiceprintKeyring: KmsKeyring

  private constructor(options: ConnectDataProtectionOptions, keys: ConnectKeys) {
    const clock = options.clock ? { clock: options.clock } : {}
    const grantTokens = options.grantTokens?.length ? { grantTokens: [...options.grantTokens] } : {}
    const actor = options.actor === undefined ? {} : { actor: options.actor }
    this.keys = keys
    // Each hierarchy binds its data class into the KMS context of its scope keys, so a scope key of one
    // class cannot be unwrapped as the other's even if the store were edited. The scope key is the data
    // key: its envelope caches it for its whole window (entries also end at the window end).
    const scoped = (dataClass: ConnectDataClass, keyWindowMs: number) => {
      const hierarchy = new KeyHierarchy({
        kms: options.kms,
        rootKeyId: keys.serviceKey.arn,
        store: options.store,
        keyWindowMs,
        context: { service: 'connect', [DATA_CLASS_KEY]: dataClass },
        ...grantTokens,
        ...actor,
        ...clock,
      })
      const envelope = new Envelope({
        keyring: hierarchy.keyring({ contextKey: KEY_SCOPE_KEY }),
        cache: { maxAgeMs: keyWindowMs },
        ...clock,
      })
      return { hierarchy, envelope }
    }
    const pii = scoped('contact-pii', options.piiKeyWindowMs ?? DEFAULT_PII_KEY_WINDOW_MS)
    const integration = scoped(
      'integration-config',
      options.integrationKeyWindowMs ?? DEFAULT_INTEGRATION_KEY_WINDOW_MS,
    )
    this.piiKeys = pii.hierarchy
    this.#pii = pii.envelope
    this.integrationKeys = integration.hierarchy
    this.#integration = integration.envelope
    // Recordings are written under the recording key; they are read under it or under the service key,
    // so recordings made before a customer chose its own key stay readable after the switch. KMS binds the
    // account (kmsContext: data class and account); the contact is bound per recording by its
    // header, so it costs no KMS call: one data key per account however many contacts.
    this.#recordingKms = new KmsKeyring({
      client: options.kms,
      generatorKeyId: keys.recordingKey.arn,
      kmsContext: [DATA_CLASS_KEY, ACCOUNT_KEY],
      decrypt: { mode: 'strict', keyIds: [...new Set([keys.recordingKey.arn, keys.serviceKey.arn])] },
      ...grantTokens,
    })
    this.#voiceprintKeyring = new KmsKeyring({
      client: options.kms,
      generatorKeyId: keys.serviceKey.arn,
      ...grantTokens,
    })
    const cache = options.dataKeyCache ? { cache: options.dataKeyCache } : {}
    this.#recordings = new Envelope({
      keyring: this.#recordingKms,
      ...cache,
      ...clock,
    })
    this.#voiceprints = new Envelope({ keyring: this.#voiceprintKeyring, ...cache, ...clock })
  }

  /**
   * Validate the keys (DescribeKey: exists, Enabled, symmetric ENCRYPT_DECRYPT, expected owner) and build
   * the protector. A disabled service key fails here with KeyDisabledError, a missing one with
   * KeyNotFoundError, an asymmetric one with InvalidKeyError.
   *
   * @example
   * ```ts
   * const connect = await ConnectDataProtection.create({ kms, serviceKeyArn, store: new MemoryKeyStore() })
   * console.log(connect.keys.serviceKey.arn)
   * ```
   */
  static async create(options: ConnectDataProtectionOptions): Promise<ConnectDataProtection> {
    // Precondition: a KMS client and a key store (the rest is checked by core).
    if (typeof options?.kms?.send !== 'function') {
      throw new ConfigurationError(
        'ConnectDataProtection needs a KMS client.',
        'Pass { kms: new KMSClient({ region }) }.',
      )
    }
    if (!options.store || typeof options.store.createVersion !== 'function') {
      throw new ConfigurationError(
        'ConnectDataProtection needs a key store for the PII and integration scope keys.',
        "Pass { store: new FileKeyStore({ directory: './scope-keys' }) } (or MemoryKeyStore, DynamoDbKeyStore).",
      )
    }
    const grantTokens = options.grantTokens?.length ? { grantTokens: options.grantTokens } : {}
    const serviceRef = serviceOwnedKey(options.serviceKeyArn)
    const serviceKey = await validateKey(options.kms, serviceRef, grantTokens)
    const recordingKey = options.recordingKey
      ? await validateKey(options.kms, options.recordingKey, grantTokens)
      : serviceKey
    return new ConnectDataProtection(options, { serviceKey, recordingKey })
  }

  /**
   * Encrypt a contact's PII (any JSON value) under the instance's current scope key. The message's context
   * names the instance and the contact (`inspect(ct).context['connect:contact']`); every contact of the
   * instance shares the instance's cached key.
   *
   * @example
   * ```ts
   * const ct = await connect.encryptContactPii('i-123', 'contact-1', { caller: '+1 555 0100', name: 'Ana' })
   * ```
   */
  async encryptContactPii(instanceId: string, contactId: string, record: unknown): Promise<Uint8Array> {
    return this.#pii.encryptJson(record, { context: piiContext(instanceId, contactId) })
  }

  /**
   * Decrypt a contact's PII. A record of another instance or of another contact →
   * EncryptionContextMismatchError before any KMS call; a destroyed instance key → KeyDestroyedError; a
   * modified record (or context) → TamperedCiphertextError.
   *
   * @example
   * ```ts
   * const pii = await connect.decryptContactPii<{ caller: string }>('i-123', 'contact-1', ct)
   * ```
   */
  async decryptContactPii<T = unknown>(
    instanceId: string,
    contactId: string,
    ciphertext: Uint8Array,
  ): Promise<T> {
    return this.#pii.decryptJson<T>(ciphertext, { expectedContext: piiContext(instanceId, contactId) })
  }

  /**
   * A Transform stream encrypting one recording of a contact, for its customer account (framed, constant
   * memory). The account binds the data key (in KMS), the contact the recording (its header). Read
   * `stream.plaintextBytes` for progress, or use {@link ConnectDataProtection.sealRecording}.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('call.wav'), connect.encryptRecording('111122223333', contactId), createWriteStream('call.wav.kenv'))
   * ```
   */
  encryptRecording(
    accountId: string,
    contactId: string,
    options: Omit<RecordingOptions, 'onProgress'> = {},
  ): EncryptStream {
    return this.#recordings.encryptStream({
      context: recordingContext(accountId, contactId),
      ...(options.plaintextLength === undefined ? {} : { plaintextLength: options.plaintextLength }),
      ...(options.frameLength === undefined ? {} : { frameLength: options.frameLength }),
    })
  }

  /**
   * A Transform stream decrypting one contact's recording. Another account's or another contact's recording
   * (e.g. two recordings swapped in storage) → EncryptionContextMismatchError before any KMS call and before
   * any output; a modified frame or header → TamperedCiphertextError; a cut-off recording →
   * TruncatedCiphertextError. Each frame is released only after it authenticated.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('call.wav.kenv'), connect.decryptRecording('111122223333', contactId), createWriteStream('call.wav'))
   * ```
   */
  decryptRecording(accountId: string, contactId: string): DecryptStream {
    return this.#recordings.decryptStream({ expectedContext: recordingContext(accountId, contactId) })
  }

  /**
   * Encrypt a recording from `source` to `destination` (a pipeline with progress). Resolves with the byte
   * counts once `destination` finished.
   *
   * @example
   * ```ts
   * const { ciphertextBytes } = await connect.sealRecording('111122223333', contactId, createReadStream('call.wav'),
   *   createWriteStream('call.wav.kenv'), { onProgress: (p) => console.log(p.plaintextBytes) })
   * ```
   */
  async sealRecording(
    accountId: string,
    contactId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    destination: Writable,
    options: RecordingOptions = {},
  ): Promise<RecordingProgress> {
    const encrypt = this.encryptRecording(accountId, contactId, options)
    return this.#run(source, encrypt, destination, options.onProgress, 'plaintext-first')
  }

  /**
   * Decrypt a contact's recording from `source` to `destination` (a pipeline with progress). On failure the
   * pipeline is destroyed and the promise rejects with the typed error (a recording of another contact or
   * account: EncryptionContextMismatchError, nothing written); `destination` may already hold authenticated
   * frames of a truncated recording: write to a temporary object and keep it only on success.
   *
   * @example
   * ```ts
   * await connect.openRecording('111122223333', contactId, createReadStream('call.wav.kenv'), createWriteStream('call.wav'))
   * ```
   */
  async openRecording(
    accountId: string,
    contactId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    destination: Writable,
    options: Pick<RecordingOptions, 'onProgress'> = {},
  ): Promise<RecordingProgress> {
    return this.#run(
      source,
      this.decryptRecording(accountId, contactId),
      destination,
      options.onProgress,
      'ciphertext-first',
    )
  }

  /**
   * Encrypt a voiceprint under the service-owned key, bound to its Voice ID domain and speaker (in the
   * message and in the KMS encryption context of its data key).
   *
   * @example
   * ```ts
   * const ct = await connect.encryptVoiceprint('domain-1', 'speaker-7', voiceprintBytes)
   * ```
   */
  async encryptVoiceprint(domainId: string, speakerId: string, voiceprint: Uint8Array): Promise<Uint8Array> {
    // Precondition: bytes (a voiceprint is an opaque embedding).
    if (!(voiceprint instanceof Uint8Array)) {
      throw new ConfigurationError(
        'encryptVoiceprint() takes the voiceprint as a Uint8Array.',
        'Pass its bytes.',
      )
    }
    return this.#voiceprints.encrypt(voiceprint, { context: voiceprintContext(domainId, speakerId) })
  }

  /**
   * Decrypt a voiceprint. Another speaker's or domain's → EncryptionContextMismatchError before any KMS
   * call; the service key disabled → KeyDisabledError.
   *
   * @example
   * ```ts
   * const voiceprint = await connect.decryptVoiceprint('domain-1', 'speaker-7', ct)
   * ```
   */
  async decryptVoiceprint(domainId: string, speakerId: string, ciphertext: Uint8Array): Promise<Uint8Array> {
    const { plaintext } = await this.#voiceprints.decrypt(ciphertext, {
      expectedContext: voiceprintContext(domainId, speakerId),
    })
    return plaintext
  }

  /**
   * Encrypt an integration's configuration (any JSON value) under the user account's current scope key,
   * with the account and the integration in the message's context.
   *
   * @example
   * ```ts
   * const ct = await connect.encryptIntegrationConfig('111122223333', 'salesforce', { clientId: 'abc', secret: '…' })
   * ```
   */
  async encryptIntegrationConfig(
    userAccountId: string,
    integrationId: string,
    config: unknown,
  ): Promise<Uint8Array> {
    return this.#integration.encryptJson(config, {
      context: integrationContext(userAccountId, integrationId),
    })
  }

  /**
   * Decrypt an integration's configuration. Another user account's or another integration's →
   * EncryptionContextMismatchError before any KMS call.
   *
   * @example
   * ```ts
   * const config = await connect.decryptIntegrationConfig('111122223333', 'salesforce', ct)
   * ```
   */
  async decryptIntegrationConfig<T = unknown>(
    userAccountId: string,
    integrationId: string,
    ciphertext: Uint8Array,
  ): Promise<T> {
    return this.#integration.decryptJson<T>(ciphertext, {
      expectedContext: integrationContext(userAccountId, integrationId),
    })
  }

  /**
   * Crypto-shred an instance's contact PII: destroy every version of its scope key (tombstones remain,
   * see core's scope README for the limits), refuse new ones, and drop this process's cached keys. Other
   * processes must call {@link ConnectDataProtection.purge} (or wait for their cache to expire).
   *
   * @example
   * ```ts
   * await connect.forgetInstance('i-123', { reason: 'instance deleted', actor: 'offboarding-job' })
   * ```
   */
  async forgetInstance(
    instanceId: string,
    options: { reason?: string; actor?: string } = {},
  ): Promise<number[]> {
    const scope = `${PII_SCOPE_PREFIX}${assertResourceId('instanceId', instanceId)}`
    try {
      return await this.piiKeys.destroyScope(scope, options)
    } finally {
      // Also when shredding failed part-way: the scope may already be marked destroyed. Only this instance's
      // key: the other instances keep theirs warm.
      this.#pii.purge({ scope })
    }
  }

  /**
   * Cache and KMS counters per data class.
   *
   * @example
   * ```ts
   * const { recordings } = connect.stats()
   * console.log(recordings.kms.generateDataKey, recordings.hits)
   * ```
   */
  stats(): ConnectStats {
    return {
      contactPii: this.#pii.stats(),
      integrationConfig: this.#integration.stats(),
      recordings: { ...this.#recordings.stats(), kms: this.#recordingKms.stats() },
      voiceprints: { ...this.#voiceprints.stats(), kms: this.#voiceprintKeyring.stats() },
    }
  }

  /**
   * Drop every cached key of every data class now (after a key destruction, or at shutdown).
   *
   * @example
   * ```ts
   * connect.purge()
   * ```
   */
  purge(): void {
    this.#pii.purge()
    this.#integration.purge()
    this.#recordings.purge()
    this.#voiceprints.purge()
  }

  async #run(
    source: Readable | AsyncIterable<Uint8Array>,
    transform: EncryptStream | DecryptStream,
    destination: Writable,
    onProgress: ((progress: RecordingProgress) => void) | undefined,
    order: 'plaintext-first' | 'ciphertext-first',
  ): Promise<RecordingProgress> {
    let input = 0
    let output = 0
    const report = (): RecordingProgress =>
      order === 'plaintext-first'
        ? { plaintextBytes: input, ciphertextBytes: output }
        : { plaintextBytes: output, ciphertextBytes: input }
    await pipeline(
      source,
      byteCounter((n) => {
        input = n
        onProgress?.(report())
      }),
      transform,
      byteCounter((n) => {
        output = n
        onProgress?.(report())
      }),
      destination,
    )
    return report()
  }
}
