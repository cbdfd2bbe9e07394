import { Duplex } from 'node:stream'
import type { ReadableStream, WritableStream } from 'node:stream/web'
import { DataKeyCache } from '../cache/index.js'
import type { CacheLimits, CacheStats } from '../cache/types.js'
import { commitmentMatches } from '../crypto/derive.js'
import { randomNonce } from '../crypto/nonce.js'
import {
  ConfigurationError,
  KmsEnvelopeError,
  MalformedCiphertextError,
  TamperedCiphertextError,
} from '../errors/errors.js'
import {
  ContentType,
  DATA_KEY_LENGTH,
  DEFAULT_FRAME_LENGTH,
  MAX_FRAME_LENGTH,
  Suite,
} from '../format/constants.js'
import { ContextMemo } from '../format/context.js'
import type { MessageHeader } from '../format/header.js'
import { HeaderMemo } from '../format/header-memo.js'
import {
  type EncryptedDataKey,
  type EncryptionContext,
  type Keyring,
  WrappingType,
} from '../keyring/types.js'
import { DecryptStream } from '../stream/decrypt-stream.js'
import { EncryptStream } from '../stream/encrypt-stream.js'
import { assertExactContext, assertExpectedContext } from './expected-context.js'
import { readHeader } from './inspect.js'
import { DataKeyMaterial } from './material.js'
import { openMessage, sealSingle } from './message.js'
import { type KeyCache, type KeyLease, Uncached } from './uncached.js'

/** Options of {@link Envelope}. */
export interface EnvelopeOptions {
  /** Produces and recovers data keys: a `KmsKeyring`, a scope keyring, or your own. */
  readonly keyring: Keyring
  /**
   * Data-key cache limits, or `false` for a fresh data key per message. Default: on, 5 minutes,
   * 2^20 messages and 2^40 bytes per data key, 1000 entries.
   */
  readonly cache?: Partial<CacheLimits> | false
  /** Plaintext bytes per frame for streams. Default 1 MiB (few per-frame GCM setups; memory stays one frame), at most 16 MiB. */
  readonly frameLength?: number
  /** Largest non-framed message `decryptStream` will buffer. Default 64 MiB. */
  readonly maxSingleMessageBytes?: number
  /** Clock (epoch ms) for cache ages and key windows; for tests and simulations. Default `Date.now`. */
  readonly clock?: () => number
}

/** The context option shared by {@link Envelope.encrypt} and {@link Envelope.encryptStream}. */
export interface EncryptOptions {
  /** Non-secret pairs bound to the ciphertext (and to the KMS call). Use them: tenant, resource, purpose. */
  readonly context?: EncryptionContext
}

/** Options of {@link Envelope.encrypt}. */
export interface EncryptMessageOptions extends EncryptOptions {
  /**
   * Compact message (docs/FORMAT.md, content type 0x03): the context and the KMS key ARN are authenticated
   * but not stored — about 100 bytes less per message under one KMS key, for small records whose context
   * the reader knows (it is derived from where the record lives), as with KMS Decrypt. The reader must pass
   * the exact context (`decrypt(ct, { context })`) and a strict `KmsKeyring` that lists the key. Needs a
   * keyring that wraps each data key under exactly one KMS key. Default false.
   */
  readonly compact?: boolean
}

/** Options of {@link Envelope.decrypt}. */
export interface DecryptOptions {
  /** Pairs the message's context must contain (with these values); otherwise EncryptionContextMismatchError. */
  readonly expectedContext?: EncryptionContext
  /**
   * The message's complete context. Required for compact messages, which do not store it (a wrong or
   * missing pair then fails authentication); for other messages the stored context must equal it exactly.
   */
  readonly context?: EncryptionContext
}

/** Options of {@link Envelope.encryptStream}. */
export interface EncryptStreamOptions extends EncryptOptions {
  /** Plaintext bytes per frame. Default: the envelope's frameLength (1 MiB). */
  readonly frameLength?: number
  /**
   * Total plaintext length, if known: the stream then uses the data-key cache (counting one message of this
   * many bytes); more input than this fails with LimitExceededError. Without it the stream gets its own data
   * key (one KMS call), as the AWS Encryption SDK does.
   */
  readonly plaintextLength?: number
}

/** The result of {@link Envelope.decrypt}. */
export interface DecryptResult {
  readonly plaintext: Uint8Array
  /** The message's full (now authenticated) encryption context. */
  readonly context: EncryptionContext
  /** The wrapped data keys the message carries. */
  readonly encryptedDataKeys: readonly EncryptedDataKey[]
}

const SUITE = Suite.AES_256_GCM_CMAC_KDF_COMMIT

function checkFrameLength(frameLength: number): number {
  // Precondition: 1 <= frameLength <= 16 MiB.
  if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > MAX_FRAME_LENGTH) {
    throw new ConfigurationError(
      `frameLength ${frameLength} is out of range.`,
      `Use 1..${MAX_FRAME_LENGTH} (default ${DEFAULT_FRAME_LENGTH}).`,
    )
  }
  return frameLength
}

/**
 * Cache keys of a keyring with `dataKeyScope` (one place, so `purge({ scope })` matches what it caches):
 * encrypt side, the keyring's partition and the scope; decrypt side, the scope and the data key's identity
 * (with an empty identity: the prefix of all of a scope's decrypt keys).
 */
function scopedEncryptKey(partition: string, scope: string): string {
  return `${partition}\u0001${scope}`
}

function scopedDecryptKey(scope: string, dataKeyIdentity: string): string {
  return `\u0001${scope}\u0000${dataKeyIdentity}`
}

/**
 * Envelope encryption: each message is encrypted with AES-256-GCM under a per-message key derived from a
 * data key, which the keyring wraps under KMS (or a scope key). Data keys are cached within limits, so
 * most messages cost no KMS call. Messages follow docs/FORMAT.md.
 *
 * @example
 * ```ts
 * import { Envelope, KmsKeyring } from '@kms-envelope/core'
 * import { KMSClient } from '@aws-sdk/client-kms'
 *
 * const keyring = new KmsKeyring({ client: new KMSClient({}), generatorKeyId: 'arn:aws:kms:us-east-1:111122223333:key/…' })
 * const envelope = new Envelope({ keyring })
 * const ct = await envelope.encryptJson({ email: 'a@example.com' }, { context: { tenant: 'acme' } })
 * const record = await envelope.decryptJson(ct, { expectedContext: { tenant: 'acme' } })
 * ```
 */
export class Envelope {
  readonly #keyring: Keyring
  readonly #cache: KeyCache<DataKeyMaterial>
  readonly #frameLength: number
  readonly #maxSingle: number
  readonly #uncached = new Uncached<DataKeyMaterial>()
  readonly #headers = new HeaderMemo()
  readonly #contexts = new ContextMemo()

  constructor(options: EnvelopeOptions) {
    // Precondition: a keyring.
    if (!options?.keyring || typeof options.keyring.generateDataKey !== 'function') {
      throw new ConfigurationError('Envelope needs a keyring.', 'Pass { keyring: new KmsKeyring({ … }) }.')
    }
    this.#keyring = options.keyring
    this.#cache =
      options.cache === false
        ? this.#uncached
        : new DataKeyCache<DataKeyMaterial>(options.cache ?? {}, options.clock ? { now: options.clock } : {})
    this.#frameLength = checkFrameLength(options.frameLength ?? DEFAULT_FRAME_LENGTH)
    const maxSingle = options.maxSingleMessageBytes ?? 64 * 1024 * 1024
    // Precondition: a byte count (NaN or a string would silently lift decryptStream's buffering bound).
    if (!Number.isSafeInteger(maxSingle) || maxSingle < 0) {
      throw new ConfigurationError(
        `maxSingleMessageBytes ${String(maxSingle)} is not a byte count.`,
        'Pass a whole number of bytes (default 67108864, 64 MiB), or leave it out.',
      )
    }
    this.#maxSingle = maxSingle
  }

  /**
   * Encrypt bytes or a string (UTF-8) into one message.
   *
   * @example
   * ```ts
   * const ct = await envelope.encrypt('call notes', { context: { instance: 'i-123' } })
   * ```
   */
  async encrypt(data: Uint8Array | string, options: EncryptMessageOptions = {}): Promise<Uint8Array> {
    const plaintext = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    // Precondition: bytes or a string.
    if (!(plaintext instanceof Uint8Array)) {
      throw new ConfigurationError(
        'encrypt() takes a Uint8Array or a string.',
        'Use encryptJson() for other values.',
      )
    }
    const { pairs, context, id, block } = this.#contexts.canonical(options.context)
    const lease = await this.#cache.acquireEncrypt(this.#partition(context, id), plaintext.length, () =>
      this.#generate(context),
    )
    try {
      const material = usable(lease)
      if (options.compact) {
        const edks = material.encryptedDataKeys
        // Precondition: a compact message carries exactly one KMS-wrapped data key.
        if (edks.length !== 1 || edks[0]?.type !== WrappingType.AwsKms) {
          throw new ConfigurationError(
            'A compact message needs a keyring that wraps each data key under exactly one KMS key.',
            'Use a KmsKeyring without extra wrapping keys (and not a scope keyring), or leave out compact.',
          )
        }
        return sealSingle(material.messageKeys, material.compactPrefix(), plaintext, block)
      }
      return sealSingle(material.messageKeys, material.singlePrefix(id, pairs), plaintext)
    } finally {
      lease.release()
    }
  }

  /**
   * Encrypt any JSON value (`JSON.stringify`, UTF-8).
   *
   * @example
   * ```ts
   * const ct = await envelope.encryptJson({ name: 'Ana', phone: '+1 555 0100' }, { context: { domain: 'crm' } })
   * ```
   */
  async encryptJson(value: unknown, options: EncryptMessageOptions = {}): Promise<Uint8Array> {
    const text = JSON.stringify(value)
    if (text === undefined)
      throw new ConfigurationError(
        'The value is not JSON-serializable.',
        'Pass an object, array, string, number, boolean or null.',
      )
    return this.encrypt(text, options)
  }

  /**
   * Decrypt and authenticate a message. Checks `expectedContext` before any KMS call.
   *
   * @example
   * ```ts
   * const { plaintext, context } = await envelope.decrypt(ct, { expectedContext: { instance: 'i-123' } })
   * ```
   */
  async decrypt(message: Uint8Array, options: DecryptOptions = {}): Promise<DecryptResult> {
    // Precondition: bytes.
    if (!(message instanceof Uint8Array)) {
      throw new MalformedCiphertextError('decrypt() takes the Uint8Array that encrypt() returned')
    }
    const header = readHeader(message, this.#headers)
    if (!header.contextStored) return this.#decryptCompact(message, header, options)
    assertExpectedContext(header.context, options.expectedContext)
    if (options.context !== undefined) assertExactContext(header.context, options.context)
    const lease = await this.#cache.acquireDecrypt(this.#identity(header), () => this.#unwrap(header))
    try {
      const material = usable(lease)
      checkCommitment(material, header)
      const plaintext = openMessage(material.messageKeys, header, message)
      return { plaintext, context: header.context, encryptedDataKeys: header.encryptedDataKeys }
    } finally {
      lease.release()
    }
  }

  /** Decrypt a message holding UTF-8 text. */
  async decryptString(message: Uint8Array, options: DecryptOptions = {}): Promise<string> {
    const { plaintext } = await this.decrypt(message, options)
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length).toString('utf8')
  }

  /** Decrypt a message produced by {@link Envelope.encryptJson}. */
  async decryptJson<T = unknown>(message: Uint8Array, options: DecryptOptions = {}): Promise<T> {
    return JSON.parse(await this.decryptString(message, options)) as T
  }

  /**
   * A Transform stream that encrypts whatever is piped into it as one framed message; memory use is one
   * frame whatever the size. `stream.plaintextBytes` tells the progress.
   *
   * @example
   * ```ts
   * import { pipeline } from 'node:stream/promises'
   * import { createReadStream, createWriteStream } from 'node:fs'
   * await pipeline(createReadStream('call.wav'), envelope.encryptStream({ context: { account: '42' } }), createWriteStream('call.wav.kenv'))
   * ```
   */
  encryptStream(options: EncryptStreamOptions = {}): EncryptStream {
    const frameLength = checkFrameLength(options.frameLength ?? this.#frameLength)
    const { pairs, context, id } = this.#contexts.canonical(options.context)
    const length = options.plaintextLength
    return new EncryptStream(
      frameLength,
      async () => {
        const load = () => this.#generate(context)
        const lease =
          length === undefined
            ? await this.#uncached.acquireEncrypt('', 0, load)
            : await this.#cache.acquireEncrypt(this.#partition(context, id), length, load)
        try {
          const material = usable(lease)
          const nonce = randomNonce()
          const header = Buffer.concat([material.headerPrefix(pairs, ContentType.Framed, frameLength), nonce])
          return { header, nonce, messageKey: material.messageKeys.derive(nonce) }
        } finally {
          lease.release()
        }
      },
      length,
    )
  }

  /**
   * A Transform stream that decrypts a message (framed or not). Each frame's plaintext is released only
   * after it authenticated; a stream cut before its final frame errors with TruncatedCiphertextError.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('call.wav.kenv'), envelope.decryptStream({ expectedContext: { account: '42' } }), createWriteStream('call.wav'))
   * ```
   */
  decryptStream(options: DecryptOptions = {}): DecryptStream {
    return new DecryptStream(async (header) => {
      // Precondition: a message that stores its context (compact messages are small: decrypt() them).
      if (!header.contextStored) {
        throw new ConfigurationError(
          'decryptStream() does not read compact messages.',
          'Compact messages are small single records: use decrypt(message, { context }).',
        )
      }
      assertExpectedContext(header.context, options.expectedContext)
      if (options.context !== undefined) assertExactContext(header.context, options.context)
      const lease = await this.#cache.acquireDecrypt(this.#identity(header), () => this.#unwrap(header))
      try {
        const material = usable(lease)
        checkCommitment(material, header)
        return material.messageKeys.derive(header.nonce)
      } finally {
        lease.release()
      }
    }, this.#maxSingle)
  }

  /** {@link Envelope.encryptStream} as a web `{ readable, writable }` pair (for fetch bodies and web APIs). */
  encryptWebStream(options: EncryptStreamOptions = {}): {
    readable: ReadableStream
    writable: WritableStream
  } {
    return Duplex.toWeb(this.encryptStream(options))
  }

  /** {@link Envelope.decryptStream} as a web `{ readable, writable }` pair. */
  decryptWebStream(options: DecryptOptions = {}): { readable: ReadableStream; writable: WritableStream } {
    return Duplex.toWeb(this.decryptStream(options))
  }

  /** Cache counters: hits, misses, loads (keyring calls), evictions, entries. */
  stats(): CacheStats {
    return this.#cache.stats()
  }

  /**
   * Drop cached data keys now, zeroizing each as soon as no operation uses it: all of them, or only those that
   * serve one scope, so other scopes keep their warm keys. Name it by `{ scope }` (a scope keyring's scope id,
   * e.g. after `KeyHierarchy#destroyScope`) or by `{ context }` (any context of that scope: for a scope keyring
   * one naming the scope, for a `KmsKeyring` with `kmsContext` one with the pairs KMS binds). Only for keyrings
   * whose data keys are per scope (`Keyring.dataKeyScope`); with others call `purge()`.
   *
   * @example
   * ```ts
   * await hierarchy.destroyScope('tenant-42', { reason: 'account closed' })
   * envelope.purge({ scope: 'tenant-42' }) // in every process that encrypts or decrypts for it
   * perTenant.purge({ context: { tenant: 'acme' } }) // a KmsKeyring with kmsContext: ['tenant']
   * ```
   */
  purge(options: { readonly scope?: string; readonly context?: EncryptionContext } = {}): void {
    const { scope, context } = options
    if (scope === undefined && context === undefined) {
      this.#cache.purge()
      return
    }
    // Precondition: a scoped purge needs a keyring whose data keys are per scope, and one way to name it.
    const dataKeyScope = this.#keyring.dataKeyScope?.bind(this.#keyring)
    if (dataKeyScope === undefined) {
      throw new ConfigurationError(
        'purge({ scope }) and purge({ context }) need a keyring with scoped data keys (a scope keyring, or a KmsKeyring with kmsContext); this keyring caches per context.',
        'Call purge() with no argument to drop every cached data key.',
      )
    }
    if (scope !== undefined && context !== undefined) {
      throw new ConfigurationError(
        'purge() takes { scope } or { context }, not both.',
        'Name the scope one way.',
      )
    }
    const target = scope ?? dataKeyScope(this.#contexts.canonical(context).context)
    const encryptKey = scopedEncryptKey(this.#keyring.partition, target)
    const decryptPrefix = scopedDecryptKey(target, '')
    this.#cache.purge((key) => key === encryptKey || key.startsWith(decryptPrefix))
  }

  /**
   * Encrypt-side cache key: the keyring's partition and the canonical context, or only the part of the context
   * the keyring's data keys depend on (`Keyring.dataKeyScope`, e.g. the scope of a scope keyring).
   */
  #partition(context: EncryptionContext, contextId: string): string {
    const scope = this.#keyring.dataKeyScope?.(context)
    return scope === undefined
      ? `${this.#keyring.partition}\u0000${contextId}`
      : scopedEncryptKey(this.#keyring.partition, scope)
  }

  /** Decrypt-side cache key: wrapped keys, commitment and context, or the context's data-key scope instead. */
  #identity(header: MessageHeader): string {
    const scope = this.#keyring.dataKeyScope?.(header.context)
    return scope === undefined ? header.keyIdentity : scopedDecryptKey(scope, header.dataKeyIdentity)
  }

  async #generate(context: EncryptionContext) {
    const generated = await this.#keyring.generateDataKey(context)
    // Postcondition: the keyring returned a 32-byte key and at least one wrapped copy.
    if (generated.plaintextKey?.length !== DATA_KEY_LENGTH || generated.encryptedDataKeys.length === 0) {
      generated.plaintextKey?.fill(0)
      throw new KmsEnvelopeError(
        'ERR_KEYRING',
        'The keyring returned an invalid data key (it must be 32 bytes with at least one wrapped copy).',
        'Fix the keyring implementation.',
      )
    }
    return {
      value: new DataKeyMaterial(SUITE, generated.plaintextKey, generated.encryptedDataKeys),
      notAfter: generated.notAfter,
    }
  }

  /** A compact message: the reader's context is authenticated (and sent to KMS) in place of a stored one. */
  async #decryptCompact(
    message: Uint8Array,
    header: MessageHeader,
    options: DecryptOptions,
  ): Promise<DecryptResult> {
    // Precondition: the reader supplies the context the message does not store.
    if (options.context === undefined) {
      throw new ConfigurationError(
        'This message is compact: it does not store its encryption context.',
        'Pass decrypt(message, { context }) with the exact context it was encrypted with.',
      )
    }
    const { context, id, block } = this.#contexts.canonical(options.context)
    assertExpectedContext(context, options.expectedContext)
    try {
      const lease = await this.#cache.acquireDecrypt(`${header.keyIdentity}\u0002${id}`, () =>
        this.#unwrap(header, context),
      )
      try {
        const material = usable(lease)
        checkCommitment(material, header)
        const plaintext = openMessage(material.messageKeys, header, message, block)
        return { plaintext, context, encryptedDataKeys: header.encryptedDataKeys }
      } finally {
        lease.release()
      }
    } catch (err) {
      // Postcondition: an authentication failure says what a compact message needs.
      if (err instanceof TamperedCiphertextError) {
        throw new TamperedCiphertextError(
          'The compact message did not authenticate with the context given: the context must be exactly the one it was encrypted with (every pair, nothing more), or the message was modified.',
          { cause: err },
        )
      }
      throw err
    }
  }

  async #unwrap(header: MessageHeader, context: EncryptionContext = header.context) {
    const decrypted = await this.#keyring.decryptDataKey(header.encryptedDataKeys, context)
    // Postcondition: a 32-byte key.
    if (decrypted.plaintextKey?.length !== DATA_KEY_LENGTH) {
      decrypted.plaintextKey?.fill(0)
      throw new TamperedCiphertextError('The wrapped data key did not decrypt to 32 bytes.')
    }
    return {
      value: new DataKeyMaterial(header.suite, decrypted.plaintextKey, header.encryptedDataKeys),
    }
  }
}

function usable(lease: KeyLease<DataKeyMaterial>): DataKeyMaterial {
  // Postcondition of every lease: the material was not wiped (the cache zeroizes only after the last release).
  if (lease.value.zeroized) throw new Error('kms-envelope: leased data key was zeroized (bug)')
  return lease.value
}

function checkCommitment(material: DataKeyMaterial, header: MessageHeader): void {
  // Precondition: the data key is the one the message committed to.
  if (!commitmentMatches(material.commitment, header.commitment)) {
    throw new TamperedCiphertextError('The key commitment does not match the data key.')
  }
}
