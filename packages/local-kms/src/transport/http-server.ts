import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { LocalKmsError } from '../engine/errors.js'
import { errorResponse, handleKmsRequest, type KmsRequestOptions } from './json-protocol.js'
import type { KmsBackend, WireRequest, WireResponse } from './types.js'

/** Largest request body accepted by default (KMS requests are small; a key policy is at most 32 KiB). */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** How long `close()` waits for requests in flight before cutting connections. */
const CLOSE_GRACE_MS = 2_000
/** AWS's casing of the response headers (node sends names as given). */
const HEADER_CASE: Record<string, string> = {
  'content-type': 'Content-Type',
  'x-amzn-requestid': 'x-amzn-RequestId',
  'x-amzn-errortype': 'x-amzn-ErrorType',
}

/**
 * Options of {@link listen}.
 *
 * @example
 * ```ts
 * const options: ListenOptions = { port: 4599, host: '127.0.0.1' }
 * ```
 */
export interface ListenOptions extends KmsRequestOptions {
  /** TCP port; `0` (default) picks a free one. */
  port?: number
  /** Interface to bind. Default `127.0.0.1`; anything but a loopback address needs `allowNonLoopback`. */
  host?: string
  /** Allow binding a non-loopback interface (the server holds keys: think twice). Default `false`. */
  allowNonLoopback?: boolean
  /** Largest request body in bytes; larger requests get `413`. Default 1 MiB. */
  maxBodyBytes?: number
}

/**
 * A running local KMS HTTP server.
 *
 * @example
 * ```ts
 * const server = await listen(engine, { port: 0 })
 * const client = new KMSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials })
 * await server.close()
 * ```
 */
export interface LocalKmsServer {
  /** Base URL for `KMSClient({ endpoint })` and `aws --endpoint-url`, e.g. `http://127.0.0.1:4599`. */
  readonly endpoint: string
  /** The bound port (useful with `port: 0`). */
  readonly port: number
  /** The bound host. */
  readonly host: string
  /** Stops accepting connections, lets requests in flight finish (up to 2 s), then closes every socket. */
  close(): Promise<void>
}

/**
 * Serves the backend over HTTP (AWS KMS JSON 1.1 protocol, SigV4-verified) on a loopback interface.
 *
 * @example
 * ```ts
 * const server = await listen(engine, { port: 4599 })
 * console.log(`AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${server.endpoint} kms list-keys`)
 * ```
 */
export async function listen(backend: KmsBackend, options: ListenOptions = {}): Promise<LocalKmsServer> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  // Precondition: the server is reachable from this machine only, unless the caller explicitly opts out.
  if (!isLoopback(host) && options.allowNonLoopback !== true) {
    throw new LocalKmsError(
      'ERR_LOCAL_KMS_NOT_LOOPBACK',
      `Refusing to bind ${host}: the local KMS listens on loopback only (127.0.0.1, ::1, localhost). Pass allowNonLoopback: true (CLI: --allow-non-loopback) if you really want it reachable from the network.`,
    )
  }
  // Precondition: a valid TCP port.
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LocalKmsError('ERR_LOCAL_KMS_PORT', `Port must be an integer between 0 and 65535, got ${port}.`)
  }

  let inFlight = 0
  let idle: (() => void) | undefined
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    inFlight++
    res.on('close', () => {
      inFlight--
      if (inFlight === 0) idle?.()
    })
    serve(backend, req, res, maxBodyBytes, options).catch((err: unknown) => {
      options.onInternalError?.(err)
      if (!res.headersSent)
        send(res, errorResponse(randomUUID(), 'KMSInternalException', 'Internal error.', 500))
    })
  })
  server.keepAliveTimeout = 5_000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  let closing: Promise<void> | undefined

  return {
    endpoint: `http://${urlHost}:${bound}`,
    port: bound,
    host,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
        const drained = new Promise<void>((done) => {
          if (inFlight === 0) done()
          else idle = done
        })
        const grace = new Promise<void>((done) => setTimeout(done, CLOSE_GRACE_MS).unref())
        void Promise.race([drained, grace]).then(() => server.closeAllConnections())
      })
      return closing
    },
  }
}

/** Reads the body (bounded), hands the request to the shared protocol handler, writes the answer. */
async function serve(
  backend: KmsBackend,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
  options: KmsRequestOptions,
): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? 0)
  // Precondition: the body fits the limit (declared length checked first, then the bytes actually read).
  if (declared > maxBodyBytes) return tooLarge(res, maxBodyBytes)
  const body = await readBody(req, maxBodyBytes)
  if (body === undefined) return tooLarge(res, maxBodyBytes)
  const url = new URL(req.url ?? '/', 'http://local')
  // Null prototypes: header and parameter names such as `constructor` or `__proto__` are ordinary names.
  const headers: Record<string, string> = Object.create(null)
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value
  }
  const query: Record<string, string | string[]> = Object.create(null)
  for (const [name, value] of url.searchParams) {
    const existing = query[name]
    query[name] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value]
  }
  const request: WireRequest = {
    method: req.method ?? 'GET',
    path: decodeURIComponent(url.pathname),
    query,
    headers,
    body,
  }
  send(res, await handleKmsRequest(backend, request, options))
}

/** The whole body, or `undefined` as soon as it exceeds the limit (the rest is discarded, not buffered). */
function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > maxBodyBytes) {
        over = true
        chunks.length = 0
        resolve(undefined)
      } else chunks.push(chunk)
    })
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}

function tooLarge(res: ServerResponse, maxBodyBytes: number): void {
  res.shouldKeepAlive = false
  send(
    res,
    errorResponse(
      randomUUID(),
      'SerializationException',
      `The request body exceeds ${maxBodyBytes} bytes.`,
      413,
    ),
  )
}

function send(res: ServerResponse, response: WireResponse): void {
  const headers: Record<string, string | number> = { 'Content-Length': response.body.length }
  for (const [name, value] of Object.entries(response.headers)) headers[HEADER_CASE[name] ?? name] = value
  res.writeHead(response.statusCode, headers)
  res.end(response.body)
}

/**
 * Whether a host name or address designates this machine only.
 *
 * @example
 * ```ts
 * isLoopback('127.0.0.1') // true
 * isLoopback('0.0.0.0') // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1'
}
