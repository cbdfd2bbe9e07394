import { Agent, request as httpRequest } from 'node:http'
import {
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  GenerateRandomCommand,
  KMSClient,
  ListKeysCommand,
  NotFoundException,
} from '@aws-sdk/client-kms'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalKmsError } from '../../src/engine/errors.js'
import { isLoopback, type LocalKmsServer, listen } from '../../src/transport/http-server.js'
import { InProcessHandler } from '../../src/transport/in-process-handler.js'
import { signedRequest } from './sign.js'
import { standIn } from './stand-in.js'

const servers: LocalKmsServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
async function start(options: Parameters<typeof listen>[1] = {}): Promise<LocalKmsServer> {
  const server = await listen(standIn(), options)
  servers.push(server)
  return server
}

interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  reusedSocket: boolean
}
function raw(
  endpoint: string,
  init: {
    method?: string
    headers?: Record<string, string>
    body?: Buffer | string
    agent?: Agent
    search?: string
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${endpoint}/${init.search ?? ''}`,
      { method: init.method ?? 'POST', headers: init.headers, agent: init.agent },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            reusedSocket: req.reusedSocket,
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

const clientFor = (endpoint: string, accessKeyId = 'test', secretAccessKey = 'test') =>
  new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  })

describe('HTTP server', () => {
  it('serves the real KMSClient: results, typed errors, status and request id', async () => {
    const server = await start()
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`)
    const client = clientFor(server.endpoint)
    const keys = await client.send(new ListKeysCommand({}))
    expect(keys.Keys?.[0]?.KeyId).toBe('k1')
    expect(keys.$metadata.httpStatusCode).toBe(200)
    expect(keys.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/)
    const random = await client.send(new GenerateRandomCommand({ NumberOfBytes: 3 }))
    expect(Buffer.from(random.Plaintext!)).toEqual(Buffer.alloc(3, 7))
    const err = await client.send(new DescribeKeyCommand({ KeyId: 'missing' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundException)
    expect((err as NotFoundException).message).toBe("Key 'missing' does not exist")
    expect((err as NotFoundException).$metadata.httpStatusCode).toBe(400)
    expect((err as NotFoundException).$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/)
    const timeout = await client.send(new GenerateDataKeyCommand({ KeyId: 'k1' })).catch((e: unknown) => e)
    expect((timeout as Error).name).toBe('DependencyTimeoutException')
    client.destroy()
  })

  it('the SDK sees wrong credentials as UnrecognizedClientException / InvalidSignatureException', async () => {
    const server = await start()
    const unknown = await clientFor(server.endpoint, 'nobody', 'x')
      .send(new ListKeysCommand({}))
      .catch((e: unknown) => e)
    expect((unknown as Error).name).toBe('UnrecognizedClientException')
    const wrong = await clientFor(server.endpoint, 'test', 'wrong')
      .send(new ListKeysCommand({}))
      .catch((e: unknown) => e)
    expect((wrong as Error).name).toBe('InvalidSignatureException')
  })

  it('writes AWS headers and error bodies on the wire', async () => {
    const server = await start()
    // The signature covers the host header: sign for the real port.
    const request = await signedRequest({
      target: 'TrentService.DescribeKey',
      body: '{"KeyId":"x"}',
      extraHeaders: { host: `127.0.0.1:${server.port}` },
    })
    const res = await raw(server.endpoint, { headers: request.headers, body: request.body })
    expect(res.status).toBe(400)
    expect(res.headers['x-amzn-errortype']).toBe('NotFoundException')
    expect(res.headers['x-amzn-requestid']).toBeDefined()
    expect(res.headers['content-type']).toBe('application/x-amz-json-1.1')
    expect(JSON.parse(res.body)).toEqual({ __type: 'NotFoundException', message: "Key 'x' does not exist" })
    const unsigned = await raw(server.endpoint, {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
      body: '{}',
    })
    expect(JSON.parse(unsigned.body).__type).toBe('MissingAuthenticationTokenException')
    const get = await raw(server.endpoint, { method: 'GET' })
    expect(get.status).toBe(404)
  })

  it("query parameters and headers named 'constructor' are ordinary names in the signature", async () => {
    const server = await start()
    const request = await signedRequest({
      query: Object.fromEntries([['constructor', '1']]),
      extraHeaders: Object.fromEntries([
        ['host', `127.0.0.1:${server.port}`],
        ['constructor', 'c'],
      ]),
    })
    const res = await raw(server.endpoint, {
      headers: request.headers,
      body: request.body,
      search: '?constructor=1',
    })
    expect(JSON.parse(res.body).__type).toBeUndefined()
    expect(res.status).toBe(200)
    // Another value than the signed one is a signature mismatch, not an internal error.
    const other = await raw(server.endpoint, {
      headers: request.headers,
      body: request.body,
      search: '?constructor=2',
    })
    expect(JSON.parse(other.body).__type).toBe('InvalidSignatureException')
  })

  it('keeps connections alive between requests', async () => {
    const server = await start()
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const send = async () => {
      const r = await signedRequest({ extraHeaders: { host: `127.0.0.1:${server.port}` } })
      return raw(server.endpoint, { headers: r.headers, body: r.body, agent })
    }
    const first = await send()
    const second = await send()
    expect(first.status).toBe(200)
    expect(second.status).toBe(200)
    expect(second.reusedSocket).toBe(true)
    agent.destroy()
  })

  it('refuses bodies over the limit with 413 without calling the backend', async () => {
    const backend = standIn()
    const server = await listen(backend, { maxBodyBytes: 1024 })
    servers.push(server)
    const big = JSON.stringify({ Description: 'x'.repeat(4096) })
    const r = await signedRequest({ body: big, extraHeaders: { host: `127.0.0.1:${server.port}` } })
    const res = await raw(server.endpoint, { headers: r.headers, body: r.body })
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body).__type).toBe('SerializationException')
    // Chunked (no Content-Length): the limit applies to the bytes read.
    const chunked = { ...r.headers }
    delete chunked['content-length']
    const res2 = await raw(server.endpoint, {
      headers: { ...chunked, 'transfer-encoding': 'chunked' },
      body: r.body,
    })
    expect(res2.status).toBe(413)
    expect(backend.calls).toHaveLength(0)
  })

  it('binds loopback only unless explicitly allowed', async () => {
    await expect(listen(standIn(), { host: '0.0.0.0' })).rejects.toBeInstanceOf(LocalKmsError)
    await expect(listen(standIn(), { host: '192.168.1.10' })).rejects.toMatchObject({
      code: 'ERR_LOCAL_KMS_NOT_LOOPBACK',
    })
    await expect(listen(standIn(), { port: 70000 })).rejects.toMatchObject({ code: 'ERR_LOCAL_KMS_PORT' })
    const open = await start({ host: '0.0.0.0', allowNonLoopback: true })
    expect(open.endpoint).toBe(`http://0.0.0.0:${open.port}`)
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('127.1.2.3')).toBe(true)
    expect(isLoopback('::1')).toBe(true)
    expect(isLoopback('[::1]')).toBe(true)
    expect(isLoopback('localhost')).toBe(true)
    expect(isLoopback('::')).toBe(false)
    expect(isLoopback('127.0.0.1.evil.example')).toBe(false)
  })

  it('close() lets a request in flight finish, then refuses new connections', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const backend = standIn()
    const slow = {
      ...backend,
      call: async (...args: Parameters<typeof backend.call>) => {
        await gate
        return backend.call(...args)
      },
    }
    const server = await listen(slow)
    const client = clientFor(server.endpoint)
    const pending = client.send(new ListKeysCommand({}))
    await new Promise((r) => setTimeout(r, 50))
    const closed = server.close()
    release()
    await expect(pending).resolves.toMatchObject({ Truncated: false })
    await closed
    await expect(clientFor(server.endpoint).send(new ListKeysCommand({}))).rejects.toThrow(/ECONNREFUSED/)
  })
})

describe('in-process handler', () => {
  const client = (accessKeyId = 'test', secretAccessKey = 'test', backend = standIn()) =>
    new KMSClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1',
      credentials: { accessKeyId, secretAccessKey },
      requestHandler: new InProcessHandler(backend),
      maxAttempts: 1,
    })

  it('serves the real KMSClient without a socket, through signature verification', async () => {
    const backend = standIn()
    const keys = await client('test', 'test', backend).send(new ListKeysCommand({}))
    expect(keys.Keys?.[0]?.KeyId).toBe('k1')
    expect(keys.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(backend.calls[0]?.caller.principalArn).toBe('arn:aws:iam::111122223333:root')
    const err = await client()
      .send(new DescribeKeyCommand({ KeyId: 'missing' }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundException)
    expect((err as NotFoundException).$metadata.httpStatusCode).toBe(400)
  })

  it('rejects wrong credentials exactly like the HTTP server', async () => {
    const wrong = await client('test', 'nope')
      .send(new ListKeysCommand({}))
      .catch((e: unknown) => e)
    expect((wrong as Error).name).toBe('InvalidSignatureException')
    const unknown = await client('ghost', 'x')
      .send(new ListKeysCommand({}))
      .catch((e: unknown) => e)
    expect((unknown as Error).name).toBe('UnrecognizedClientException')
  })

  it('honours an aborted request', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(client().send(new ListKeysCommand({}), { abortSignal: controller.signal })).rejects.toThrow()
  })
})
