import { createHash, timingSafeEqual } from 'node:crypto'
import { Hash } from '@smithy/hash-node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { KmsServiceError } from '../engine/errors.js'
import type { CallerIdentity } from '../engine/types.js'
import type { KmsBackend, WireRequest } from './types.js'

/** The only signing algorithm accepted. */
const ALGORITHM = 'AWS4-HMAC-SHA256'
/** How far a request's `X-Amz-Date` may be from the server clock, as in AWS. */
const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.'

/**
 * Options of {@link verifySignature}.
 *
 * @example
 * ```ts
 * const options: SignatureCheckOptions = { now: () => Date.parse('2026-01-01T00:00:00Z') }
 * ```
 */
export interface SignatureCheckOptions {
  /** The server clock in ms since the epoch (tests pin it). Default `Date.now`. */
  now?: () => number
  /** Maximum distance between `X-Amz-Date` and the server clock. Default 5 minutes. */
  maxSkewMs?: number
}

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
interface ParsedAuthorization {
  accessKeyId: string
  scopeDate: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

const incomplete = (message: string) => new KmsServiceError('IncompleteSignatureException', message)
const invalid = (message: string) => new KmsServiceError('InvalidSignatureException', message)

/**
 * Verifies the AWS Signature Version 4 of a KMS request and returns who made it. The signature is
 * recomputed with `@smithy/signature-v4` over the signed headers the request names and compared in
 * constant time.
 *
 * Throws `KmsServiceError` with AWS's types: `MissingAuthenticationTokenException` (no Authorization),
 * `IncompleteSignatureException` (malformed header), `UnrecognizedClientException` (unknown access key),
 * `InvalidSignatureException` (wrong scope, clock skew over 5 minutes, signature mismatch).
 *
 * @example
 * ```ts
 * const caller = await verifySignature(engine, request)
 * console.log(caller.principalArn)
 * ```
 */
export async function verifySignature(
  backend: KmsBackend,
  request: WireRequest,
  options: SignatureCheckOptions = {},
): Promise<CallerIdentity> {
  const header = request.headers.authorization
  // Precondition: the request is signed (presigned query strings are not used by KMS clients).
  if (header === undefined || header.trim() === '') {
    throw new KmsServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token')
  }
  const auth = parseAuthorization(header)

  // Precondition: the access key is one the server knows.
  const principal = backend.resolveAccessKey(auth.accessKeyId)
  if (principal === undefined) {
    throw new KmsServiceError(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    )
  }

  // Precondition: the credential scope names this service and this server's region.
  if (auth.service !== 'kms') throw invalid(`Credential should be scoped to correct service: 'kms'. `)
  if (auth.region !== backend.region) {
    throw invalid(`Credential should be scoped to a valid region, not '${auth.region}'. `)
  }

  // Precondition: the host and the request time are signed, so a request cannot be replayed later.
  if (!auth.signedHeaders.includes('host')) {
    throw incomplete(`'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.`)
  }
  const amzDate = request.headers['x-amz-date']
  if (amzDate === undefined || !auth.signedHeaders.includes('x-amz-date')) {
    throw incomplete(`Authorization header requires the 'X-Amz-Date' header to be present and signed.`)
  }
  const signingDate = parseAmzDate(amzDate)
  if (signingDate === undefined)
    throw incomplete(`X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z').`)
  if (amzDate.slice(0, 8) !== auth.scopeDate) {
    throw invalid(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    )
  }

  // Precondition: the request time is within the allowed skew of the server clock.
  const now = (options.now ?? Date.now)()
  const skew = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS
  const minutes = Math.round(skew / 60_000)
  if (signingDate.getTime() < now - skew) {
    throw invalid(
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - skew)} (${formatAmzDate(now)} - ${minutes} min.)`,
    )
  }
  if (signingDate.getTime() > now + skew) {
    throw invalid(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + skew)} (${formatAmzDate(now)} + ${minutes} min.)`,
    )
  }

  // Precondition: a signed payload hash header, if any, is the hash of this body (else the body is unbound).
  const contentSha = request.headers['x-amz-content-sha256']
  if (contentSha !== undefined && auth.signedHeaders.includes('x-amz-content-sha256')) {
    const actual = createHash('sha256').update(request.body).digest('hex')
    if (!constantTimeEqual(contentSha.toLowerCase(), actual)) {
      throw invalid(`The provided 'x-amz-content-sha256' header does not match what was computed.`)
    }
  }

  const expected = await computeSignature(request, auth, principal.secretAccessKey, signingDate)
  // Postcondition: the signature the client sent is the one its secret produces for this exact request.
  if (!constantTimeEqual(auth.signature, expected)) throw invalid(SIGNATURE_MISMATCH)
  return principal.caller
}

/** Re-signs the request, restricted to the headers the client signed, with the client's date and scope. */
async function computeSignature(
  request: WireRequest,
  auth: ParsedAuthorization,
  secretAccessKey: string,
  signingDate: Date,
): Promise<string> {
  // Null prototype, own lookups: a signed header named `constructor` or `__proto__` is an ordinary name.
  const headers: Record<string, string> = Object.create(null)
  for (const name of auth.signedHeaders) {
    const value = Object.hasOwn(request.headers, name) ? request.headers[name] : undefined
    if (value !== undefined) headers[name] = value
  }
  const hostHeader = request.headers.host ?? ''
  const httpRequest = new HttpRequest({
    method: request.method,
    protocol: 'http:',
    hostname: hostHeader.replace(/:\d+$/, ''),
    path: request.path,
    query: request.query ?? {},
    headers,
    body: request.body,
  })
  const signer = new SignatureV4({
    service: auth.service,
    region: auth.region,
    credentials: { accessKeyId: auth.accessKeyId, secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
    uriEscapePath: true,
  })
  const signed = await signer.sign(httpRequest, { signingDate, signableHeaders: new Set(auth.signedHeaders) })
  const authorization = signed.headers.authorization ?? ''
  return /Signature=([0-9a-f]+)/.exec(authorization)?.[1] ?? ''
}

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kms/aws4_request, SignedHeaders=a;b, Signature=hex`. */
function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim()
  const space = trimmed.indexOf(' ')
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space)
  // Precondition: SigV4 with HMAC-SHA256.
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'.`)
  const fields = new Map<string, string>()
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=')
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  // Precondition: all three SigV4 parameters are present.
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incomplete(
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${algorithm} ...`,
    )
  }
  const scope = credential.split('/')
  // Precondition: Credential is AKID/date/region/service/aws4_request.
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1] ?? '')) {
    throw incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request.`,
    )
  }
  const [accessKeyId = '', scopeDate = '', region = '', service = ''] = scope
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    signedHeaders: signedHeaders
      .split(';')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
    signature: signature.toLowerCase(),
  }
}

/** `20260101T120000Z` → Date, or undefined when malformed. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (m === null) return undefined
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
  return Number.isNaN(ms) ? undefined : new Date(ms)
}

/** ms since the epoch → `20260101T120000Z`. */
function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

/** Constant-time string comparison (lengths may differ; a length mismatch is simply unequal). */
function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  if (x.length !== y.length) {
    timingSafeEqual(x, x)
    return false
  }
  return timingSafeEqual(x, y)
}
