/**
 * Local KMS throughput: GenerateDataKey and Decrypt through the HTTP server (real KMSClient, keep-alive
 * agent, SigV4 signed and verified on every request) and in process (`localKms.client()`, same protocol
 * and SigV4 path without a socket), plus the bare engine for reference.
 *
 * Run: `npx tsx packages/local-kms/bench/http-bench.ts [--seconds 3] [--concurrency 32]`
 *
 * The HTTP server is measured twice: in a child process (the CLI; client and server each get a core) and in
 * the bench's own process (client and server share one event loop).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, request as httpRequest } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { Hash } from '@smithy/hash-node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { LocalKms } from '../src/index.js'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '32' } },
})
const SECONDS = Number(values.seconds)
const CONCURRENCY = Number(values.concurrency)
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }
const CONTEXT = { tenant: 'acme', purpose: 'bench' }

interface Result {
  transport: string
  operation: string
  perSecond: number
  p50: number
  p99: number
}

/** Runs `op` from `CONCURRENCY` workers for `SECONDS` (after a short warm-up); returns rate and latencies. */
async function measure(transport: string, operation: string, op: () => Promise<unknown>): Promise<Result> {
  const warmUntil = performance.now() + 1000
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < warmUntil) await op()
    }),
  )
  const latencies: number[] = []
  const started = performance.now()
  const until = started + SECONDS * 1000
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t = performance.now()
        await op()
        latencies.push(performance.now() - t)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return { transport, operation, perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) }
}

/** GenerateDataKey and Decrypt through one KMSClient. */
async function throughClient(transport: string, client: KMSClient): Promise<Result[]> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'bench' }))
  const KeyId = KeyMetadata!.Arn!
  const { CiphertextBlob } = await client.send(
    new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
  )
  return [
    await measure(transport, 'GenerateDataKey', () =>
      client.send(new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT })),
    ),
    await measure(transport, 'Decrypt', () =>
      client.send(new DecryptCommand({ CiphertextBlob, KeyId, EncryptionContext: CONTEXT })),
    ),
  ]
}

/**
 * Server capacity without the SDK's client-side cost: each request is signed once with SigV4 and replayed
 * (valid for the 5-minute window, as with AWS) over a keep-alive agent. The server still parses, verifies
 * the signature and runs the operation on every request; any non-200 answer aborts the run.
 */
async function rawSigned(transport: string, endpoint: string, client: KMSClient): Promise<Result[]> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'bench' }))
  const KeyId = KeyMetadata!.Arn!
  const { CiphertextBlob } = await client.send(
    new GenerateDataKeyCommand({ KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }),
  )
  const url = new URL(endpoint)
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, noDelay: true })
  const signer = new SignatureV4({
    service: 'kms',
    region: 'us-east-1',
    credentials: CREDENTIALS,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  })
  async function prepare(operation: string, input: Record<string, unknown>) {
    const body = JSON.stringify(input)
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: {
          host: url.host,
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `TrentService.${operation}`,
          'content-length': String(Buffer.byteLength(body)),
        },
        body,
      }),
    )
    const headers = signed.headers
    return () =>
      new Promise<void>((resolve, reject) => {
        const req = httpRequest(endpoint, { method: 'POST', headers, agent }, (res) => {
          res.resume()
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          )
        })
        req.on('error', reject)
        req.end(body)
      })
  }
  const gdk = await prepare('GenerateDataKey', { KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT })
  const decrypt = await prepare('Decrypt', {
    CiphertextBlob: Buffer.from(CiphertextBlob!).toString('base64'),
    KeyId,
    EncryptionContext: CONTEXT,
  })
  try {
    return [await measure(transport, 'GenerateDataKey', gdk), await measure(transport, 'Decrypt', decrypt)]
  } finally {
    agent.destroy()
  }
}

/** Starts the CLI in a child process and resolves its endpoint. */
function startChildServer(): Promise<{ child: ChildProcess; endpoint: string }> {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', cli, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m?.[1]) resolve({ child, endpoint: m[1] })
    })
    child.on('exit', (code) => reject(new Error(`local KMS CLI exited with ${code}`)))
  })
}

const httpClient = (endpoint: string) =>
  new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
    // Keep-alive, one socket per in-flight request, Nagle off (node's default, stated explicitly).
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY, noDelay: true }) },
  })

const results: Result[] = []

// 1. HTTP server in a child process (the CLI).
const { child, endpoint: childEndpoint } = await startChildServer()
try {
  results.push(
    ...(await throughClient('HTTP, KMSClient → server in child process', httpClient(childEndpoint))),
  )
  results.push(
    ...(await rawSigned(
      'HTTP, raw signed requests → server in child process',
      childEndpoint,
      httpClient(childEndpoint),
    )),
  )
} finally {
  child.kill('SIGTERM')
}

// 2. HTTP server in this process, 3. in-process client, 4. bare engine.
const kms = await LocalKms.create()
try {
  const { endpoint } = await kms.listen({ port: 0 })
  results.push(...(await throughClient('HTTP, KMSClient → server in same process', httpClient(endpoint))))
  results.push(...(await throughClient('in process (localKms.client())', kms.client({ maxAttempts: 1 }))))
  const { caller } = kms.engine.resolveAccessKey('test')!
  const key = (await kms.engine.call('CreateKey', {}, caller)) as { KeyMetadata: { Arn: string } }
  const KeyId = key.KeyMetadata.Arn
  const dk = await kms.engine.call(
    'GenerateDataKey',
    { KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT },
    caller,
  )
  results.push(
    await measure('engine.call (no SDK, no SigV4)', 'GenerateDataKey', () =>
      kms.engine.call('GenerateDataKey', { KeyId, KeySpec: 'AES_256', EncryptionContext: CONTEXT }, caller),
    ),
    await measure('engine.call (no SDK, no SigV4)', 'Decrypt', () =>
      kms.engine.call(
        'Decrypt',
        { CiphertextBlob: dk.CiphertextBlob, KeyId, EncryptionContext: CONTEXT },
        caller,
      ),
    ),
  )
} finally {
  await kms.close()
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
console.log(
  `\nLocal KMS throughput (${SECONDS}s per row, ${CONCURRENCY} requests in flight, memory-only engine)\n`,
)
console.log('| transport | operation | req/s | p50 ms | p99 ms |')
console.log('|---|---|---:|---:|---:|')
for (const r of results) {
  console.log(
    `| ${r.transport} | ${r.operation} | ${fmt(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
  )
}
