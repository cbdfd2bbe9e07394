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
  })
}

interface EndpointLike {
  readonly protocol?: string
  readonly hostname?: string
  readonly port?: number
  readonly url?: URL
}

/**
 * Check the custom endpoint of any `KMSClient` (also one you built yourself): HTTPS, or HTTP on loopback.
 * Clients without a custom endpoint use the SDK's regional HTTPS endpoints and pass. `KmsKeyring` runs
 * this once, before its first KMS call.
 *
 * @example
 * ```ts
 * import { KMSClient } from '@aws-sdk/client-kms'
 * import { assertSecureKmsEndpoint } from '@kms-envelope/core'
 *
 * await assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal' })) // throws ConfigurationError
 * ```
 */
export async function assertSecureKmsEndpoint(client: KMSClient): Promise<void> {
  const provider = (client.config as { endpoint?: () => Promise<EndpointLike> | EndpointLike }).endpoint
  if (typeof provider !== 'function') return
  const endpoint = await provider()
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
