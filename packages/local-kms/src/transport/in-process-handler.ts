import {
  type HttpHandler,
  type HttpHandlerOptions,
  type HttpRequest,
  HttpResponse,
} from '@smithy/protocol-http'
import { handleKmsRequest, type KmsRequestOptions } from './json-protocol.js'
import type { KmsBackend } from './types.js'

/**
 * An `HttpHandler` for `KMSClient`'s `requestHandler` option that serves the SDK's signed request in
 * process: no socket, but the same JSON 1.1 protocol and SigV4 verification path as the HTTP server
 * (`handleKmsRequest`). The client is a real `@aws-sdk/client-kms` client: serialization, signing, error
 * deserialization and retries all run.
 *
 * @example
 * ```ts
 * const client = new KMSClient({
 *   region: engine.region,
 *   endpoint: 'http://127.0.0.1',
 *   credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
 *   requestHandler: new InProcessHandler(engine),
 * })
 * await client.send(new ListKeysCommand({}))
 * ```
 */
export class InProcessHandler implements HttpHandler<Record<string, never>> {
  readonly #backend: KmsBackend
  readonly #options: KmsRequestOptions

  constructor(backend: KmsBackend, options: KmsRequestOptions = {}) {
    this.#backend = backend
    this.#options = options
  }

  /** Serves one signed SDK request. */
  async handle(
    request: HttpRequest,
    handlerOptions?: HttpHandlerOptions,
  ): Promise<{ response: HttpResponse }> {
    // Precondition: the SDK has not given up on this request.
    if (handlerOptions?.abortSignal?.aborted === true) {
      const error = new Error('Request aborted')
      error.name = 'AbortError'
      throw error
    }
    // Null prototypes: header and parameter names such as `constructor` or `__proto__` are ordinary names.
    const headers: Record<string, string> = Object.create(null)
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
    const query: Record<string, string | string[]> = Object.create(null)
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== null && value !== undefined) query[name] = value
    }
    const wire = await handleKmsRequest(
      this.#backend,
      { method: request.method, path: request.path, query, headers, body: toBuffer(request.body) },
      this.#options,
    )
    return {
      response: new HttpResponse({
        statusCode: wire.statusCode,
        headers: wire.headers,
        body: new Uint8Array(wire.body),
      }),
    }
  }

  /** No configuration: present for the `HttpHandler` contract. */
  updateHttpClientConfig(): void {}

  /** No configuration: present for the `HttpHandler` contract. */
  httpHandlerConfigs(): Record<string, never> {
    return {}
  }

  /** Nothing to release: present for the `HttpHandler` contract. */
  destroy(): void {}
}

function toBuffer(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  throw new TypeError('The in-process KMS handler only accepts string or byte request bodies.')
}
