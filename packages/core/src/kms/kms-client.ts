/**
 * The one way this library builds a `KMSClient`, and the endpoint check every KMS adapter runs once:
 * KMS is reached over HTTPS only, except on the loopback interface (a local KMS in tests).
 */
import { isIP } from 'node:net'
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms'
import { ConfigurationError } from '../errors/errors.js'

/** Options for {@link createKmsClient}. */
export interface KmsClientOptions {
  /** AWS Region of the KMS keys, e.g. `us-east-1`. */
  readonly region: string
  /** Custom endpoint (VPC endpoint, FIPS endpoint, local KMS). `http:` is accepted only on loopback. */
  readonly endpoint?: string
  /** Credentials or a credential provider; default: the SDK's default chain. */
  readonly credentials?: KMSClientConfig['credentials']
  /** Attempts per request including retries (SDK default 3). */
  readonly maxAttempts?: number
  /** Shared config/credentials profile for the SDK's default credential chain (like `AWS_PROFILE`). */
  readonly profile?: string
}

/**
 * True for `localhost`, 127.0.0.0/8 and `::1` (with or without brackets).
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from '@kms-envelope/core'
 * isLoopbackHost('127.0.0.1') // true
 * isLoopbackHost('kms.internal') // false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

/** Throws ConfigurationError unless `protocol`/`hostname` name an HTTPS endpoint or a loopback HTTP one. */
function checkEndpoint(protocol: string, hostname: string, shown: string): void {
  // Precondition: KMS endpoints are HTTPS only; plain HTTP is tolerated on loopback (a local KMS).
  if (protocol === 'https:') return
  if (protocol === 'http:' && isLoopbackHost(hostname)) return
  throw new ConfigurationError(
    `Refusing KMS endpoint ${shown}: data keys travel in KMS responses and must not cross the network unencrypted.`,
    'Use an https:// endpoint (plain http:// is accepted only on localhost, 127.0.0.0/8 or ::1).',
  )
}

/**
 * Create a `KMSClient` for `region`, refusing a plain-HTTP endpoint that is not on loopback.
 *
 * @example
 * ```ts
 * import { createKmsClient, KmsKeyring } from '@kms-envelope/core'
 *
 * const client = createKmsClient({ region: 'eu-west-1' })
 * const local = createKmsClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:4566' }) // loopback: allowed
 * const keyring = new KmsKeyring({ client, generatorKeyId: 'arn:aws:kms:eu-west-1:111122223333:alias/app' })
 * ```
 */
export function createKmsClient(options: KmsClientOptions): KMSClient {
  // Precondition: a region.
  if (typeof options?.region !== 'string' || options.region.length === 0) {
    throw new ConfigurationError(
      'createKmsClient needs a region.',
      "Pass { region: 'us-east-1' } (the Region of your KMS keys).",
    )
  }
  if (options.endpoint !== undefined) {
    let url: URL
    try {
      url = new URL(options.endpoint)
    } catch (cause) {
      throw new ConfigurationError(
        `The KMS endpoint "${options.endpoint}" is not a URL.`,
        'Pass a full URL such as https://kms.us-east-1.amazonaws.com.',
        { cause },
      )
    }
    checkEndpoint(url.protocol, url.hostname, url.origin)
  }
  // Precondition: maxAttempts is a positive integer.
  if (
    options.maxAttempts !== undefined &&
    !(Number.isInteger(options.maxAttempts) && options.maxAttempts > 0)
  ) {
    throw new ConfigurationError(
      `maxAttempts must be a positive integer, got ${String(options.maxAttempts)}.`,
      'Pass 1 to disable retries, or leave it out for the SDK default (3).',
    )
  }
  return new KMSClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  })
}

interface EndpointLike {
  readonly protocol?: string
  readonly hostname?: string
  readonly port?: number
  readonly url?: URL
}

/** The parts of a resolved SDK client config this check reads (present in SDK v3 clients). */
interface EndpointConfig {
  readonly endpoint?: () => Promise<EndpointLike> | EndpointLike
  readonly isCustomEndpoint?: boolean
  readonly ignoreConfiguredEndpointUrls?: boolean
  /** The endpoint from `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` / a profile's `endpoint_url` (memoized). */
  readonly serviceConfiguredEndpoint?: () => Promise<string | undefined>
}

/**
 * Check the endpoint any `KMSClient` (also one you built yourself) will call: HTTPS, or HTTP on loopback.
 * That is its custom `endpoint`, or else the endpoint the SDK takes from the environment or the shared config
 * file at the first request (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, a profile's `endpoint_url` or
 * `services` section); with neither, the SDK's regional HTTPS endpoints pass. `KmsKeyring`, `validateKey` and
 * `KeyHierarchy` (every scope-key KMS call) run this once, before their first KMS call.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms'
 * import { assertSecureKmsEndpoint } from '@kms-envelope/core'
 *
 * await assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal' })) // throws ConfigurationError
 * // AWS_ENDPOINT_URL_KMS=http://kms.internal in the environment: throws too
 * ```
 */
export async function assertSecureKmsEndpoint(client: KMSClient): Promise<void> {
  // A `{ send }` stand-in without an SDK config has no endpoint to check.
  const config = (client.config ?? {}) as EndpointConfig
  const provider = config.endpoint
  if (typeof provider === 'function' && config.isCustomEndpoint !== false) {
    checkResolvedEndpoint(await provider())
    return
  }
  // Precondition: an endpoint the SDK will pick up from the environment or config file is checked too (it is
  // the same memoized value the SDK uses at the first request).
  if (
    config.ignoreConfiguredEndpointUrls !== true &&
    typeof config.serviceConfiguredEndpoint === 'function'
  ) {
    const configured = await config.serviceConfiguredEndpoint()
    if (configured === undefined || configured === '') return
    let url: URL
    try {
      url = new URL(configured)
    } catch (cause) {
      throw new ConfigurationError(
        `The configured KMS endpoint "${configured}" (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL or endpoint_url) is not a URL.`,
        'Fix or unset it, or pass the endpoint explicitly.',
        { cause },
      )
    }
    checkEndpoint(
      url.protocol,
      url.hostname,
      `${url.origin} (from AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL or endpoint_url)`,
    )
  }
}

function checkResolvedEndpoint(endpoint: EndpointLike): void {
  if (endpoint.url instanceof URL) {
    checkEndpoint(endpoint.url.protocol, endpoint.url.hostname, endpoint.url.origin)
    return
  }
  const protocol = endpoint.protocol ?? ''
  const hostname = endpoint.hostname ?? ''
  checkEndpoint(
    protocol.endsWith(':') ? protocol : `${protocol}:`,
    hostname,
    `${protocol}//${hostname}${endpoint.port ? `:${endpoint.port}` : ''}`,
  )
}
