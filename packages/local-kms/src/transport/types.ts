import type { CallerIdentity } from '../engine/types.js'

/**
 * What the transports need from a KMS engine: its region, the access keys it knows, and one entry point
 * per call. `LocalKmsEngine` satisfies it; the transports depend on nothing else.
 *
 * @example
 * ```ts
 * const engine: KmsBackend = await LocalKmsEngine.open()
 * const response = await handleKmsRequest(engine, request)
 * ```
 */
export interface KmsBackend {
  /** The region the server answers for; SigV4 credential scopes must name it. */
  readonly region: string
  /** The secret and identity behind an access key id, or `undefined` when the key is unknown. */
  resolveAccessKey(accessKeyId: string): { secretAccessKey: string; caller: CallerIdentity } | undefined
  /** Runs one KMS operation (wire JSON in, wire JSON out); throws `KmsServiceError` for KMS errors. */
  call(
    operation: string,
    input: Record<string, unknown>,
    caller: CallerIdentity,
  ): Promise<Record<string, unknown>>
}

/**
 * One HTTP request as both transports hand it to `handleKmsRequest`: header names in lower case.
 *
 * @example
 * ```ts
 * const request: WireRequest = {
 *   method: 'POST',
 *   path: '/',
 *   headers: { host: '127.0.0.1:4599', 'x-amz-target': 'TrentService.ListKeys' },
 *   body: Buffer.from('{}'),
 * }
 * ```
 */
export interface WireRequest {
  method: string
  /** The request target's path, without the query string. */
  path: string
  /** Query parameters, if any (KMS uses none, but they are part of the signature). */
  query?: Record<string, string | string[]>
  /** Header names in lower case. */
  headers: Record<string, string>
  body: Buffer
}

/**
 * One HTTP response as `handleKmsRequest` produces it.
 *
 * @example
 * ```ts
 * const { statusCode, headers, body } = await handleKmsRequest(engine, request)
 * console.log(statusCode, headers['x-amzn-requestid'], body.toString())
 * ```
 */
export interface WireResponse {
  statusCode: number
  headers: Record<string, string>
  body: Buffer
}
