import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Duplex, type Readable } from 'node:stream'
import {
  buildClient,
  CommitmentPolicy,
  KmsKeyringNode,
  type MessageHeader,
  NodeDefaultCryptographicMaterialsManager,
} from '@aws-crypto/client-node'
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  type EncryptionContext,
  type Envelope,
  LimitExceededError,
  MalformedCiphertextError,
  TruncatedCiphertextError,
  tryParseKmsArn,
  UnsupportedFormatError,
} from '@kms-envelope/core'
import { type EsdkReaderCacheOptions, ReaderDecryptCache } from './decrypt-cache.js'
import { detectFormat, esdkSuiteOf } from './detect-format.js'
import { CommitmentPolicyError } from './errors.js'
import type { EsdkSuite } from './esdk-suites.js'
import { ESDK_RESERVED_PREFIX, GuardedMaterialsManager, type KeyPolicy, splitContext } from './guard.js'
import { clientLookup, type EsdkKmsCalls, KmsCallLog } from './kms-adapter.js'
import { mapEsdkError, NOT_ESDK, UNKNOWN_ESDK_FORMAT_REMEDY } from './map-esdk-error.js'

/**
 * The ESDK commitment policies a reader accepts (it never encrypts, so only the decrypt half matters).
 *
 * @example
 * ```ts
 * const policy: EsdkCommitmentPolicy = 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' // once no ESDK 1.x message is left
 * ```
 */
export type EsdkCommitmentPolicy = 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' | 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'

/**
 * Options of {@link EsdkReader}. Give exactly one of `keyIds` (strict) or `discovery`.
 *
 * @example
 * ```ts
 * const options: EsdkReaderOptions = {
 *   client: new KMSClient({}),
 *   keyIds: [keyArn],
 *   maxEncryptedDataKeys: 2,
 *   cache: { capacity: 100, maxAgeMs: 60_000 }, // or false: one KMS Decrypt per message
 * }
 * ```
 */
export interface EsdkReaderOptions {
  /** The KMS client (its region must be the region of the keys; see `clientForRegion` for several). */
  readonly client?: KMSClient
  /** A client per region, for messages wrapped under keys of several regions. Wins over `client`. */
  readonly clientForRegion?: (region: string) => KMSClient | undefined
  /** Strict mode: the full key ARNs the reader may use (the ESDK records key ARNs in its messages). */
  readonly keyIds?: readonly string[]
  /** Discovery mode: any KMS key of these accounts (and partition, default `aws`). */
  readonly discovery?: { readonly accounts: readonly string[]; readonly partition?: string }
  /** Grant tokens passed with every KMS Decrypt (for grants not yet consistent). */
  readonly grantTokens?: readonly string[]
  /**
   * Default `REQUIRE_ENCRYPT_ALLOW_DECRYPT`: reads legacy non-committing ESDK 1.x messages too (what a
   * migration needs). `REQUIRE_ENCRYPT_REQUIRE_DECRYPT` reads only key-committing (ESDK 2.x+) messages.
   */
  readonly commitmentPolicy?: EsdkCommitmentPolicy
  /** Most wrapped data keys a message may carry (each can cost a KMS call). Default 3, at least 1. */
  readonly maxEncryptedDataKeys?: number
  /** Who the reader is (e.g. a role ARN), named in access-denied errors. */
  readonly principal?: string
  /**
   * Reuse unwrapped data keys across messages that share one (as ESDK messages written through the ESDK's
   * caching materials manager do), through the ESDK's own caching materials manager and local cache. Default
   * on: at most 100 keys, each for at most 5 minutes from its KMS Decrypt. A key is reused only for a message
   * with the same suite, the same wrapped data keys and the same whole encryption context, and only after
   * the expected-context and key allow-list checks passed for that message. `false`: one KMS Decrypt per
   * message (see {@link EsdkReaderCacheOptions} and the README's cost model).
   */
  readonly cache?: false | EsdkReaderCacheOptions
}

/**
 * Counters of an {@link EsdkReader} since it was created: how many data keys it obtained, how many came from
 * its cache (each one a KMS Decrypt saved), and the KMS calls it made.
 *
 * @example
 * ```ts
 * const { dataKeys, cacheHits, kmsCalls } = reader.stats()
 * console.log(`${dataKeys} messages, ${kmsCalls.decrypt} KMS Decrypt, ${cacheHits} saved by the cache`)
 * ```
 */
export interface EsdkReaderStats {
  /** Messages whose data key was obtained: their header passed the checks, the key was unwrapped or cached. */
  readonly dataKeys: number
  /** Of those, served from the cache without calling KMS: each saved at least one KMS Decrypt. */
  readonly cacheHits: number
  /** KMS calls this reader made, all operations together (failed calls included). */
  readonly kmsCalls: EsdkKmsCalls
  /** Data keys in the cache now (0 with `cache: false`). */
  readonly cachedKeys: number
}

/**
 * Options of {@link EsdkReader.decrypt}.
 *
 * @example
 * ```ts
 * const options: EsdkDecryptOptions = { expectedContext: { tenant: 'acme' } }
 * ```
 */
export interface EsdkDecryptOptions {
  /** Pairs the message's context must contain (ESDK-reserved keys are ignored); checked before KMS. */
  readonly expectedContext?: EncryptionContext
}

/**
 * Options of {@link EsdkReader.decryptStream}.
 *
 * @example
 * ```ts
 * const options: EsdkDecryptStreamOptions = { expectedContext: { tenant: 'acme' }, signedMessages: 'buffer' }
 * ```
 */
export interface EsdkDecryptStreamOptions extends EsdkDecryptOptions {
  /**
   * Signed suites (the ESDK default) verify their ECDSA signature only at the end. `'reject'` (default)
   * refuses them before any KMS call; `'buffer'` holds all plaintext in memory until the signature verified
   * (at most `maxBufferedBytes`), then releases it.
   */
  readonly signedMessages?: 'reject' | 'buffer'
  /** Limit of `'buffer'`. Default 64 MiB. */
  readonly maxBufferedBytes?: number
}

/**
 * Options of {@link EsdkReader.migrate}.
 *
 * @example
 * ```ts
 * const options: MigrateOptions = { expectedContext: { tenant: 'acme' } }
 * ```
 */
export interface MigrateOptions extends EsdkDecryptOptions {}

/**
 * Options of {@link EsdkReader.migrateStream}.
 *
 * @example
 * ```ts
 * const options: MigrateStreamOptions = { signedMessages: 'spool', spoolDir: '/var/tmp', frameLength: 65536 }
 * ```
 */
export interface MigrateStreamOptions extends EsdkDecryptOptions {
  /**
   * Signed ESDK messages are only verified at their end. `'reject'` (default) refuses them before any KMS
   * call (use {@link EsdkReader.migrate} for them); `'spool'` writes the migrated (encrypted) output to a
   * temporary file and releases it only after the ESDK verified the signature; the file is deleted after.
   */
  readonly signedMessages?: 'reject' | 'spool'
  /** Directory of `'spool'` files. Default `os.tmpdir()`. */
  readonly spoolDir?: string
  /** Plaintext bytes per frame of the kms-envelope output. Default: the envelope's. */
  readonly frameLength?: number
}

/**
 * The result of {@link EsdkReader.decrypt}.
 *
 * @example
 * ```ts
 * const { plaintext, context, reservedContext, suite, keyIds }: EsdkDecryptResult = await reader.decrypt(message)
 * ```
 */
export interface EsdkDecryptResult {
  readonly plaintext: Uint8Array
  /** The message's authenticated encryption context, without ESDK-reserved keys. */
  readonly context: EncryptionContext
  /** ESDK-reserved pairs of the context (e.g. `aws-crypto-public-key` of signed suites). */
  readonly reservedContext: EncryptionContext
  readonly suite: EsdkSuite
  /** The KMS key ARNs the message's data key is wrapped under. */
  readonly keyIds: readonly string[]
  /** Plaintext bytes per frame, or 0 for a non-framed message. */
  readonly frameLength: number
  /** KMS calls this decryption made (all 0 when the data key came from the reader's cache). */
  readonly kmsCalls: EsdkKmsCalls
}

/**
 * The result of {@link EsdkReader.migrate}.
 *
 * @example
 * ```ts
 * const { message, context, droppedContext, source }: MigrationResult = await reader.migrate(esdkMessage, envelope)
 * ```
 */
export interface MigrationResult {
  /** The kms-envelope message (docs/FORMAT.md). */
  readonly message: Uint8Array
  /** The context carried over (the ESDK message's, without reserved keys). */
  readonly context: EncryptionContext
  /** ESDK-reserved pairs that were dropped (they belong to the ESDK's signature, which is not carried over). */
  readonly droppedContext: EncryptionContext
  readonly source: Omit<EsdkDecryptResult, 'plaintext' | 'context' | 'reservedContext'>
}

/**
 * Streams of {@link EsdkReader.decryptStream} and {@link EsdkReader.migrateStream}.
 *
 * @example
 * ```ts
 * const stream = reader.migrateStream(envelope)
 * stream.header.then(({ suite, context }) => console.log(suite.name, context))
 * ```
 */
export interface EsdkStreamInfo {
  /** Resolves with the source message's suite and context (without reserved keys) once the header is read. */
  readonly header: Promise<{
    suite: EsdkSuite
    context: EncryptionContext
    reservedContext: EncryptionContext
  }>
}

const DEFAULT_MAX_EDKS = 3
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024

interface Session {
  readonly cmm: GuardedMaterialsManager
  readonly log: KmsCallLog
  map(err: unknown): Error
  /** Zeroize the operation's materials (once it ended, either way). */
  release(): void
}

/**
 * Reads AWS Encryption SDK messages (formats 1 and 2, KMS keyrings) with the same KMS keys, through the
 * ESDK for JavaScript itself, under kms-envelope's rules: a strict key list or discovery limited to accounts,
 * the expected context checked before any KMS call, a small limit on wrapped keys, and every failure a typed
 * core error. Then migrates messages to the kms-envelope format. Data keys shared by several messages (the
 * ESDK's caching materials manager writes such messages) are unwrapped once and reused from a small cache.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms'
 * import { Envelope, KmsKeyring } from '@kms-envelope/core'
 * import { EsdkReader } from '@kms-envelope/esdk-interop'
 *
 * const client = new KMSClient({})
 * const reader = new EsdkReader({ client, keyIds: [keyArn] })
 * const { plaintext, context } = await reader.decrypt(esdkMessage, { expectedContext: { tenant: 'acme' } })
 * const envelope = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: keyArn }) })
 * const { message } = await reader.migrate(esdkMessage, envelope, { expectedContext: { tenant: 'acme' } })
 * reader.stats() // { dataKeys: 2, cacheHits: 1, kmsCalls: { decrypt: 1, … }, cachedKeys: 1 }
 * ```
 */
export class EsdkReader {
  readonly #policy: KeyPolicy
  readonly #clientFor: (region: string) => KMSClient | undefined
  /** The ESDK keyring options of every operation (each gets its own keyring and call log). */
  readonly #keyring: KmsKeyringInput
  readonly #requireCommitment: boolean
  readonly #maxEdks: number
  readonly #principal: string | undefined
  readonly #esdk: ReturnType<typeof buildClient>
  readonly #cache: ReaderDecryptCache | undefined
  readonly #kmsCalls: EsdkKmsCalls = { decrypt: 0, encrypt: 0, generateDataKey: 0 }
  #dataKeys = 0
  #cacheHits = 0

  constructor(options: EsdkReaderOptions) {
    this.#clientFor = clientLookup('EsdkReader', options)
    // Precondition: exactly one of strict key ARNs or discovery accounts.
    if ((options.keyIds === undefined) === (options.discovery === undefined)) {
      throw new ConfigurationError(
        'EsdkReader needs exactly one of keyIds (strict) or discovery (accounts).',
        'List the key ARNs your ESDK writers used (keyIds), or trust every key of some accounts (discovery.accounts).',
      )
    }
    let keys: KmsKeyringInput
    if (options.keyIds !== undefined) {
      const bad = options.keyIds.find((id) => tryParseKmsArn(id)?.resourceType !== 'key')
      // Precondition: strict ids are key ARNs (the ESDK matches them against the ARN stored in the message).
      if (options.keyIds.length === 0 || bad !== undefined) {
        throw new ConfigurationError(
          `keyIds must be a non-empty list of KMS key ARNs${bad !== undefined ? ` (got "${bad}")` : ''}.`,
          'Use full key ARNs (arn:aws:kms:region:account:key/id): ESDK messages record the key ARN, and aliases or key ids never match it.',
        )
      }
      this.#policy = { mode: 'strict', keyIds: new Set(options.keyIds) }
      keys = { keyIds: [...options.keyIds] }
    } else {
      const accounts = options.discovery!.accounts
      // Precondition: discovery is limited to named 12-digit accounts.
      if (accounts.length === 0 || accounts.some((a) => !/^\d{12}$/.test(a))) {
        throw new ConfigurationError(
          'discovery.accounts must be a non-empty list of 12-digit AWS account ids.',
          'Name the accounts whose keys you trust; unrestricted discovery would let any key owner feed you data.',
        )
      }
      const partition = options.discovery!.partition ?? 'aws'
      this.#policy = { mode: 'discovery', accounts: new Set(accounts), partition }
      keys = { discovery: true, discoveryFilter: { accountIDs: [...accounts], partition } }
    }
    const max = options.maxEncryptedDataKeys ?? DEFAULT_MAX_EDKS
    // Precondition: a positive wrapped-key limit.
    if (!Number.isInteger(max) || max < 1 || max > 65_535) {
      throw new ConfigurationError(
        `maxEncryptedDataKeys ${max} is out of range.`,
        'Use 1..65535 (default 3).',
      )
    }
    this.#maxEdks = max
    const policy = options.commitmentPolicy ?? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT'
    if (policy !== 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' && policy !== 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT') {
      throw new ConfigurationError(
        `Unknown commitmentPolicy ${String(policy)}.`,
        'Use REQUIRE_ENCRYPT_ALLOW_DECRYPT or REQUIRE_ENCRYPT_REQUIRE_DECRYPT.',
      )
    }
    this.#requireCommitment = policy === 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT'
    this.#keyring = {
      ...keys,
      ...(options.grantTokens ? { grantTokens: [...options.grantTokens] } : {}),
    }
    this.#principal = options.principal
    this.#esdk = buildClient({ commitmentPolicy: CommitmentPolicy[policy], maxEncryptedDataKeys: max })
    this.#cache =
      options.cache === false
        ? undefined
        : new ReaderDecryptCache(options.cache === undefined ? {} : options.cache)
  }

  /**
   * Counters since the reader was created: data keys obtained, cache hits (KMS Decrypts saved), KMS calls,
   * keys cached now.
   *
   * @example
   * ```ts
   * for (const m of legacyMessages) await reader.migrate(m, envelope)
   * const { dataKeys, cacheHits, kmsCalls } = reader.stats() // e.g. 10000, 9990, { decrypt: 10, … }
   * ```
   */
  stats(): EsdkReaderStats {
    return {
      dataKeys: this.#dataKeys,
      cacheHits: this.#cacheHits,
      kmsCalls: { ...this.#kmsCalls },
      cachedKeys: this.#cache?.size ?? 0,
    }
  }

  /**
   * Drop every cached data key now (the ESDK's cache zeroizes each): e.g. at the end of a migration batch,
   * or after revoking access to a key, so the next message of each data key asks KMS again.
   *
   * @example
   * ```ts
   * await runMigrationBatch(reader)
   * reader.purge() // reader.stats().cachedKeys === 0
   * ```
   */
  purge(): void {
    this.#cache?.purge()
  }

  /**
   * Decrypt and authenticate a whole ESDK message (signature included) before returning any plaintext.
   *
   * @example
   * ```ts
   * const { plaintext, context, suite } = await reader.decrypt(esdkMessage, { expectedContext: { tenant: 'acme' } })
   * ```
   */
  async decrypt(message: Uint8Array, options: EsdkDecryptOptions = {}): Promise<EsdkDecryptResult> {
    // Precondition: bytes.
    if (!(message instanceof Uint8Array)) {
      throw new MalformedCiphertextError(
        'EsdkReader.decrypt() takes the Uint8Array of an ESDK message',
        NOT_ESDK,
      )
    }
    const suite = this.#gate(message, true)
    const session = this.#session(options)
    try {
      const { plaintext, messageHeader } = await this.#esdk.decrypt(session.cmm, message)
      return this.#result(plaintext, messageHeader, suite, session.log.calls)
    } catch (err) {
      throw session.map(err)
    } finally {
      session.release()
    }
  }

  /**
   * A Duplex stream: ESDK message bytes in, plaintext out. Non-signing suites release each frame after its
   * tag verified (an ESDK stream cut short errors at its end: discard what you got). Signed suites: see
   * `signedMessages`.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('report.esdk'), reader.decryptStream({ expectedContext: { tenant: 'acme' } }), createWriteStream('report.pdf'))
   * ```
   */
  decryptStream(options: EsdkDecryptStreamOptions = {}): Duplex & EsdkStreamInfo {
    const mode = options.signedMessages ?? 'reject'
    const limit = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFER
    // Precondition: a real limit (NaN or a negative number would silently buffer without bound or fail all).
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new ConfigurationError(
        `maxBufferedBytes ${String(limit)} is not a positive number of bytes.`,
        `Use a positive integer (default ${DEFAULT_MAX_BUFFER}).`,
      )
    }
    const run = this.#streamRun(options, mode === 'reject')
    const stream = Duplex.from(async function* (source: AsyncIterable<Uint8Array>) {
      const { plaintext, header, done } = run(source)
      const { suite } = await header
      if (!suite.signed) {
        yield* plaintext
        return await done
      }
      // Signed: hold everything until the ESDK verified the signature at the end.
      const held: Buffer[] = []
      let size = 0
      try {
        for await (const chunk of plaintext) {
          size += chunk.length
          held.push(chunk)
          // Precondition: the buffered plaintext stays within the limit.
          if (size > limit) {
            throw new LimitExceededError(
              `The signed ESDK message's plaintext exceeds maxBufferedBytes (${limit}).`,
              'Raise maxBufferedBytes, or migrate signed messages with migrateStream({ signedMessages: "spool" }), which holds only ciphertext.',
            )
          }
        }
        await done
      } catch (err) {
        for (const b of held) b.fill(0)
        throw err
      }
      yield* held
    }) as Duplex & EsdkStreamInfo
    return attachHeader(stream, run)
  }

  /**
   * Decrypt an ESDK message (whole, signature verified) and re-encrypt its plaintext with `envelope`, keeping
   * the encryption context (without ESDK-reserved keys). The expected context is checked before any KMS
   * call; the plaintext is zeroized after.
   *
   * @example
   * ```ts
   * const { message, context } = await reader.migrate(esdkMessage, envelope, { expectedContext: { tenant: 'acme' } })
   * await envelope.decrypt(message, { expectedContext: context })
   * ```
   */
  async migrate(
    esdkMessage: Uint8Array,
    envelope: Envelope,
    options: MigrateOptions = {},
  ): Promise<MigrationResult> {
    const { plaintext, context, reservedContext, ...source } = await this.decrypt(esdkMessage, options)
    try {
      const message = await envelope.encrypt(plaintext, { context })
      return { message, context, droppedContext: reservedContext, source }
    } finally {
      plaintext.fill(0)
    }
  }

  /**
   * A Duplex stream: ESDK message bytes in, a framed kms-envelope message out, in constant memory. The
   * output's final frame is written only after the ESDK message fully authenticated: if the source fails
   * (tampered, truncated), the stream errors and what was written has no final frame, so every kms-envelope
   * reader rejects it (`ERR_TRUNCATED`); delete it. Signed sources: see `signedMessages`.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('big.esdk'), reader.migrateStream(envelope, { expectedContext: { tenant: 'acme' } }), createWriteStream('big.kenv'))
   * ```
   */
  migrateStream(envelope: Envelope, options: MigrateStreamOptions = {}): Duplex & EsdkStreamInfo {
    const mode = options.signedMessages ?? 'reject'
    const run = this.#streamRun(options, mode === 'reject')
    const spoolDir = options.spoolDir ?? tmpdir()
    const frameLength = options.frameLength
    const stream = Duplex.from(async function* (source: AsyncIterable<Uint8Array>) {
      const { plaintext, header, done } = run(source)
      const { suite, context } = await header
      const enc = envelope.encryptStream(frameLength === undefined ? { context } : { context, frameLength })
      // Feed the ESDK's (authenticated, frame by frame) plaintext into the encryptor; end it only on success.
      const feeding = (async () => {
        for await (const chunk of plaintext) {
          if (!enc.write(chunk)) await drained(enc)
        }
        await done
        enc.end()
      })()
      feeding.catch((err: unknown) => enc.destroy(err as Error))
      if (!suite.signed) {
        yield* enc
        return await feeding
      }
      // Signed: spool the (encrypted) output; release it only once the signature verified.
      const path = join(spoolDir, `esdk-migrate-${randomUUID()}.kenv.part`)
      const file = await open(path, 'wx', 0o600)
      try {
        try {
          for await (const chunk of enc as AsyncIterable<Buffer>) await file.write(chunk)
          await feeding
        } finally {
          await file.close()
        }
        yield* createReadStream(path) as Readable
      } finally {
        await unlink(path).catch(() => undefined)
      }
    }) as Duplex & EsdkStreamInfo
    return attachHeader(stream, run)
  }

  /** Checks made on the first bytes, before the ESDK or KMS see anything. */
  #gate(head: Uint8Array, complete: boolean, refuseSigned = false): EsdkSuite {
    const suite = esdkSuiteOf(head)
    if (!suite) {
      if (detectFormat(head) === 'kms-envelope') {
        throw new UnsupportedFormatError(
          'This is a kms-envelope message, not an AWS Encryption SDK message.',
          { remedy: 'Decrypt it with Envelope#decrypt (detectFormat() tells the two apart).' },
        )
      }
      // A prefix of an ESDK start (0x01 0x80 + suite, or 0x02 + suite) that ends too early.
      const prefix =
        head.length === 0 || head[0] === 0x02 || (head[0] === 0x01 && (head.length === 1 || head[1] === 0x80))
      if (head.length < 4 && (prefix || !complete)) {
        throw new TruncatedCiphertextError('The ESDK message ends inside its header.')
      }
      if ((head[0] === 0x01 && head[1] === 0x80) || head[0] === 0x02) {
        throw new UnsupportedFormatError(
          'The ESDK message uses an algorithm suite this reader does not know.',
          { remedy: UNKNOWN_ESDK_FORMAT_REMEDY },
        )
      }
      throw new MalformedCiphertextError('the bytes do not start with 0x01 0x80 or 0x02', NOT_ESDK)
    }
    // Precondition: the commitment policy allows the suite.
    if (this.#requireCommitment && !suite.committing) throw new CommitmentPolicyError(suite.name)
    // Precondition: streaming refuses signed suites unless told how to hold output until the signature.
    if (refuseSigned && suite.signed) {
      throw new ConfigurationError(
        `The ESDK message uses the signed suite ${suite.name}: its signature is verified only at the end, after a stream would have released plaintext.`,
        'Use decrypt()/migrate() (whole message), or decryptStream({ signedMessages: "buffer" }) / migrateStream(envelope, { signedMessages: "spool" }).',
      )
    }
    return suite
  }

  #session(options: EsdkDecryptOptions): Session {
    const expected = options.expectedContext
    // Precondition: callers do not expect ESDK-reserved keys (they are ignored when comparing).
    const reserved = expected && Object.keys(expected).find((k) => k.startsWith(ESDK_RESERVED_PREFIX))
    if (reserved) {
      throw new ConfigurationError(
        `expectedContext names the ESDK-reserved key "${reserved}".`,
        'Remove it: ESDK-reserved pairs are set by the ESDK itself and are reported in reservedContext, not compared.',
      )
    }
    const log = new KmsCallLog(this.#clientFor, this.#principal, this.#kmsCalls)
    const keyring = new KmsKeyringNode({ ...this.#keyring, clientProvider: log.provider })
    // The guard sits in front of the cache: its checks run for every message, hit or miss.
    const backing = this.#cache
      ? this.#cache.materialsManager(keyring)
      : new NodeDefaultCryptographicMaterialsManager(keyring)
    const cmm = new GuardedMaterialsManager(backing, this.#policy, expected, () => {
      this.#dataKeys++
      // A data key without a KMS Decrypt of this operation's own came from the cache.
      if (log.calls.decrypt === 0) this.#cacheHits++
    })
    const maxEncryptedDataKeys = this.#maxEdks
    return {
      cmm,
      log,
      release: () => cmm.release(),
      map: (err) =>
        mapEsdkError(err, {
          kmsError: log.firstError,
          materialsReady: cmm.materialsReady,
          missingRegions: log.missingRegions,
          maxEncryptedDataKeys,
        }),
    }
  }

  #result(
    plaintext: Buffer,
    header: MessageHeader,
    suite: EsdkSuite,
    calls: EsdkKmsCalls,
  ): EsdkDecryptResult {
    const { context, reserved } = splitContext(header.encryptionContext)
    return {
      plaintext: new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength),
      context,
      reservedContext: reserved,
      suite,
      keyIds: header.encryptedDataKeys.map((e) => e.providerInfo),
      frameLength: header.contentType === 2 ? header.frameLength : 0,
      kmsCalls: { ...calls },
    }
  }

  /**
   * One streaming decryption: gate the first bytes, feed the ESDK's decrypt stream with backpressure, and
   * expose its plaintext, its header and its completion, every failure mapped to a typed error.
   */
  #streamRun(options: EsdkDecryptOptions, refuseSigned: boolean): StreamRun {
    let resolveHeader!: (h: StreamHeader) => void
    let rejectHeader!: (e: unknown) => void
    const header = new Promise<StreamHeader>((res, rej) => {
      resolveHeader = res
      rejectHeader = rej
    })
    header.catch(() => undefined)
    const start = (source: AsyncIterable<Uint8Array>) => {
      const session = this.#session(options)
      let suite: EsdkSuite | undefined
      const esdk = refuseSigned
        ? this.#esdk.decryptUnsignedMessageStream(session.cmm)
        : this.#esdk.decryptStream(session.cmm)
      let failure: Error | undefined
      const fail = (err: unknown): Error => {
        failure ??= session.map(err)
        rejectHeader(failure)
        return failure
      }
      esdk.on('error', (err: unknown) => fail(err))
      esdk.once('MessageHeader', (h: MessageHeader) => {
        const { context, reserved } = splitContext(h.encryptionContext)
        resolveHeader({ suite: suite!, context, reservedContext: reserved })
      })
      const feeding = (async () => {
        let head = Buffer.alloc(0)
        for await (const raw of source) {
          const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
          if (suite === undefined) {
            head = Buffer.concat([head, chunk])
            if (head.length < 4) continue
            suite = this.#gate(head, false, refuseSigned)
            if (!esdk.write(head)) await drained(esdk)
            continue
          }
          if (!esdk.write(chunk)) await drained(esdk)
        }
        if (suite === undefined) {
          // The source ended: these few bytes are the whole input.
          suite = this.#gate(head, true, refuseSigned)
          esdk.write(head)
        }
        esdk.end()
      })()
      feeding.catch((err: unknown) => {
        esdk.destroy(fail(err))
      })
      const ended = new Promise<void>((res, rej) => {
        esdk.once('end', () => (failure ? rej(failure) : res()))
        esdk.once('error', () => rej(failure))
        esdk.once('close', () => (failure ? rej(failure) : undefined))
      })
      ended.catch(() => undefined)
      const plaintext = (async function* () {
        try {
          for await (const chunk of esdk as AsyncIterable<Buffer>) {
            if (failure) throw failure
            yield chunk
          }
        } catch (err) {
          throw failure ?? fail(err)
        }
        if (failure) throw failure
      })()
      const done = (async () => {
        try {
          await feeding.catch(() => undefined)
          await ended
          if (failure) throw failure
        } finally {
          session.release()
        }
      })()
      done.catch(() => undefined)
      return { plaintext, header, done }
    }
    return Object.assign(start, { header })
  }
}

/** The options of the ESDK's KMS keyring, without the per-operation `clientProvider`. */
type KmsKeyringInput = Omit<NonNullable<ConstructorParameters<typeof KmsKeyringNode>[0]>, 'clientProvider'>

interface StreamHeader {
  suite: EsdkSuite
  context: EncryptionContext
  reservedContext: EncryptionContext
}

type StreamRun = ((source: AsyncIterable<Uint8Array>) => {
  plaintext: AsyncGenerator<Buffer>
  header: Promise<StreamHeader>
  done: Promise<void>
}) & { header: Promise<StreamHeader> }

/** Wait for 'drain', or fail if the stream errors or closes first (its consumer gave up). */
function drained(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: unknown) => {
      stream.off('drain', onDrain)
      stream.off('error', settle)
      stream.off('close', onClose)
      if (err === undefined) resolve()
      else reject(err)
    }
    const onDrain = () => settle()
    const onClose = () => settle(new Error('The stream closed before it drained.'))
    stream.once('drain', onDrain)
    stream.once('error', settle)
    stream.once('close', onClose)
  })
}

function attachHeader(stream: Duplex & EsdkStreamInfo, run: StreamRun): Duplex & EsdkStreamInfo {
  Object.defineProperty(stream, 'header', { value: run.header, enumerable: true })
  return stream
}
