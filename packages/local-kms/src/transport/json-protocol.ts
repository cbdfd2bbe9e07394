import { randomUUID } from 'node:crypto'
import { KmsServiceError } from '../engine/errors.js'
import { type SignatureCheckOptions, verifySignature } from './sigv4.js'
import type { KmsBackend, WireRequest, WireResponse } from './types.js'

/** The JSON 1.1 target prefix of every KMS operation. */
const TARGET_PREFIX = 'TrentService.'
/** The content type of requests and responses. */
export const KMS_CONTENT_TYPE = 'application/x-amz-json-1.1'

/**
 * Options of {@link handleKmsRequest}.
 *
 * @example
 * ```ts
 * const options: KmsRequestOptions = { onInternalError: (err) => console.error(err) }
 * ```
 */
export interface KmsRequestOptions extends SignatureCheckOptions {
  /** Called with any error that is not a KMS error (a bug): the client only sees `KMSInternalException`. */
  onInternalError?: (error: unknown) => void
}

/**
 * Serves one request of the AWS KMS JSON 1.1 protocol: `POST /`, `X-Amz-Target: TrentService.<Operation>`,
 * `Content-Type: application/x-amz-json-1.1`, a JSON body. Verifies the SigV4 signature, runs the operation
 * on the backend and answers `200` with JSON, or an AWS-shaped error: the status of the error,
 * `{"__type": "<Type>", "message": "..."}` and the `x-amzn-ErrorType` header. Every response carries an
 * `x-amzn-RequestId`. Both transports (HTTP server, in-process handler) call this one function.
 *
 * @example
 * ```ts
 * const response = await handleKmsRequest(engine, {
 *   method: 'POST',
 *   path: '/',
 *   headers: signedHeaders,
 *   body: Buffer.from('{}'),
 * })
 * if (response.statusCode === 200) console.log(JSON.parse(response.body.toString()))
 * ```
 */
export async function handleKmsRequest(
  backend: KmsBackend,
  request: WireRequest,
  options: KmsRequestOptions = {},
): Promise<WireResponse> {
  const requestId = randomUUID()
  try {
    // Precondition: the KMS endpoint is `POST /`.
    if (request.method !== 'POST' || request.path !== '/') {
      throw new KmsServiceError(
        'UnknownOperationException',
        `${request.method} ${request.path} is not a KMS operation.`,
        404,
      )
    }
    const caller = await verifySignature(backend, request, options)
    const operation = parseTarget(request.headers['x-amz-target'])
    const input = parseBody(request.headers['content-type'], request.body)
    const output = await backend.call(operation, input, caller)
    return respond(200, requestId, {}, Buffer.from(JSON.stringify(output)))
  } catch (err) {
    if (err instanceof KmsServiceError) return errorResponse(requestId, err.type, err.message, err.statusCode)
    options.onInternalError?.(err)
    return errorResponse(
      requestId,
      'KMSInternalException',
      'An internal error occurred in the local KMS.',
      500,
    )
  }
}

/** `TrentService.GenerateDataKey` → `GenerateDataKey`. */
function parseTarget(target: string | undefined): string {
  // Precondition: the target names a TrentService operation.
  if (target === undefined || !target.startsWith(TARGET_PREFIX)) {
    throw new KmsServiceError('UnknownOperationException', `Unknown operation target '${target ?? ''}'.`)
  }
  const operation = target.slice(TARGET_PREFIX.length)
  if (!/^[A-Za-z]+$/.test(operation)) {
    throw new KmsServiceError('UnknownOperationException', `Unknown operation '${operation}'.`)
  }
  return operation
}

/** The request body as a JSON object (an empty body is `{}`). */
function parseBody(contentType: string | undefined, body: Buffer): Record<string, unknown> {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase()
  // Precondition: the body is declared as AWS JSON 1.1.
  if (mediaType !== KMS_CONTENT_TYPE) {
    throw new KmsServiceError('SerializationException', `Content-Type must be ${KMS_CONTENT_TYPE}.`)
  }
  if (body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new KmsServiceError('SerializationException', 'The request body is not valid JSON.')
  }
  // Precondition: the body is a JSON object.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new KmsServiceError('SerializationException', 'Start of structure or map found where not expected.')
  }
  return value as Record<string, unknown>
}

/**
 * An AWS-shaped JSON 1.1 error response.
 *
 * @example
 * ```ts
 * const response = errorResponse(randomUUID(), 'SerializationException', 'Request too large.', 413)
 * ```
 */
export function errorResponse(
  requestId: string,
  type: string,
  message: string,
  statusCode: number,
): WireResponse {
  const body: Record<string, string> = { __type: type }
  if (message !== '') body.message = message
  return respond(statusCode, requestId, { 'x-amzn-errortype': type }, Buffer.from(JSON.stringify(body)))
}

function respond(
  statusCode: number,
  requestId: string,
  extra: Record<string, string>,
  body: Buffer,
): WireResponse {
  return {
    statusCode,
    headers: { 'content-type': KMS_CONTENT_TYPE, 'x-amzn-requestid': requestId, ...extra },
    body,
  }
}
