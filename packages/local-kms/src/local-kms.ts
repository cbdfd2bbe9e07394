import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms'
import { type EngineOptions, LocalKmsEngine } from './engine/index.js'
import { type ListenOptions, type LocalKmsServer, listen } from './transport/http-server.js'
import { InProcessHandler } from './transport/in-process-handler.js'
import type { KmsRequestOptions } from './transport/json-protocol.js'

/**
 * Options of {@link LocalKms.create}: the engine's options (data directory, seed, region, key material
 * protection) plus transport hooks.
 *
 * @example
 * ```ts
 * const options: LocalKmsOptions = { dataDir: '.local-kms', seed: 'seed.json', region: 'us-east-1' }
 * ```
 */
export interface LocalKmsOptions extends EngineOptions {
  /** Called with unexpected (non-KMS) errors, which clients only see as `KMSInternalException`. */
  onInternalError?: KmsRequestOptions['onInternalError']
}

/**
 * Options of {@link LocalKms.client}: the access key to sign with, plus any `KMSClient` setting except the
 * transport ones (`endpoint`, `requestHandler`, `credentials`).
 *
 * @example
 * ```ts
 * const service = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
 * ```
 */
export interface LocalKmsClientOptions
  extends Omit<KMSClientConfig, 'endpoint' | 'requestHandler' | 'credentials' | 'region'> {
  /** Access key id the client signs with. Default `test`. */
  accessKeyId?: string
  /** Secret of that access key. Default `test`. */
  secretAccessKey?: string
  /** Signing region. Default: the engine's region (any other region is refused, as AWS would). */
  region?: string
}

/**
 * An embedded AWS KMS with real semantics (key states, key policies, grants, aliases, rotation, audit),
 * usable in process through a real `@aws-sdk/client-kms` `KMSClient`, or served over HTTP on loopback
 * with the KMS JSON 1.1 protocol for other processes, SDKs and the AWS CLI. Every request, in process or
 * not, is SigV4-verified against the configured access keys.
 *
 * @example
 * ```ts
 * import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms'
 * import { LocalKms } from '@kms-envelope/local-kms'
 *
 * const kms = await LocalKms.create() // memory only; account 111122223333, access key test/test
 * const client = kms.client()
 * const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'demo' }))
 * await client.send(new EncryptCommand({ KeyId: KeyMetadata!.Arn!, Plaintext: Buffer.from('hi') }))
 * const server = await kms.listen({ port: 4599 }) // http://127.0.0.1:4599 for other processes
 * await kms.close()
 * ```
 */
export class LocalKms {
  /** The engine: faults (`engine.faults.set(...)`), audit log (`engine.auditLog()`), access keys. */
  readonly engine: LocalKmsEngine
  readonly #handler: InProcessHandler
  readonly #servers = new Set<LocalKmsServer>()
  readonly #options: LocalKmsOptions
  #closing: Promise<void> | undefined

  private constructor(engine: LocalKmsEngine, options: LocalKmsOptions) {
    this.engine = engine
    this.#options = options
    this.#handler = new InProcessHandler(engine, this.#requestOptions())
  }

  /**
   * Opens the engine (taking the data directory's lock when there is one, applying the seed).
   * Throws `LocalKmsError` (`ERR_LOCAL_KMS_LOCKED` when another process holds the directory,
   * `ERR_LOCAL_KMS_SEED` for an invalid seed).
   *
   * @example
   * ```ts
   * const kms = await LocalKms.create({ dataDir: '.local-kms', seed: './seed.json' })
   * ```
   */
  static async create(options: LocalKmsOptions = {}): Promise<LocalKms> {
    const { onInternalError: _hook, ...engineOptions } = options
    return new LocalKms(await LocalKmsEngine.open(engineOptions), options)
  }

  /** The region of every key ARN this KMS issues. */
  get region(): string {
    return this.engine.region
  }

  /**
   * A real `KMSClient` wired to this KMS in process (no socket): requests are serialized, signed, verified
   * and deserialized exactly as over HTTP. Default credentials `test` / `test`.
   *
   * @example
   * ```ts
   * const admin = kms.client()
   * const service = kms.client({ accessKeyId: 'service', secretAccessKey: 'service-secret', maxAttempts: 1 })
   * ```
   */
  client(options: LocalKmsClientOptions = {}): KMSClient {
    const { accessKeyId = 'test', secretAccessKey = 'test', region = this.engine.region, ...config } = options
    return new KMSClient({
      ...config,
      region,
      endpoint: 'http://127.0.0.1',
      credentials: { accessKeyId, secretAccessKey },
      requestHandler: this.#handler,
    })
  }

  /**
   * Serves this KMS over HTTP on loopback (default `127.0.0.1`, a free port). Closed by {@link close}.
   *
   * @example
   * ```ts
   * const { endpoint } = await kms.listen({ port: 0 })
   * const client = new KMSClient({ endpoint, region: kms.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
   * ```
   */
  async listen(options: ListenOptions = {}): Promise<LocalKmsServer> {
    const server = await listen(this.engine, { ...this.#requestOptions(), ...options })
    const close = server.close.bind(server)
    const tracked: LocalKmsServer = {
      endpoint: server.endpoint,
      port: server.port,
      host: server.host,
      close: async () => {
        this.#servers.delete(tracked)
        await close()
      },
    }
    this.#servers.add(tracked)
    return tracked
  }

  /**
   * Closes every server started by {@link listen}, then the engine (flushing state and audit log and
   * releasing the data directory's lock). Idempotent.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void kms.close())
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#servers].map((s) => s.close()))
      await this.engine.close()
    })()
    return this.#closing
  }

  #requestOptions(): KmsRequestOptions {
    return this.#options.onInternalError === undefined
      ? {}
      : { onInternalError: this.#options.onInternalError }
  }
}
