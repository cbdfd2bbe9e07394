// KmsKeyring through the real SDK transport against a tiny loopback HTTP server speaking the KMS JSON
// protocol: checks the requests on the wire and that real error responses (including exceptions the SDK
// does not model, like AccessDeniedException) and real network failures are mapped.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  ConfigurationError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsKeyring,
  KmsThrottledError,
  KmsUnavailableError,
  WrappingType,
} from '@kms-envelope/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }

interface Seen {
  target: string
  body: Record<string, unknown>
}
let server: Server
let endpoint: string
let seen: Seen[] = []
let reply: (target: string, body: Record<string, unknown>) => { status: number; json: unknown }

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '').replace('TrentService.', '')
    const body = await readJson(req)
    seen.push({ target, body })
    const { status, json } = reply(target, body)
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
    res.end(JSON.stringify(json))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))
beforeEach(() => {
  seen = []
})

const error = (type: string, message = 'm') => ({ status: 400, json: { __type: type, message } })

describe('KmsKeyring over HTTP (loopback)', () => {
  it('GenerateDataKey and Decrypt on the wire; data key round-trips', async () => {
    const key = Buffer.alloc(32, 0xab)
    reply = (target, body) =>
      target === 'GenerateDataKey'
        ? { status: 200, json: { KeyId: ARN, Plaintext: key.toString('base64'), CiphertextBlob: 'AQID' } }
        : { status: 200, json: { KeyId: body.KeyId, Plaintext: key.toString('base64') } }
    const keyring = new KmsKeyring({
      region: 'us-east-1',
      endpoint,
      credentials,
      generatorKeyId: ARN,
      grantTokens: ['gt'],
    })
    const generated = await keyring.generateDataKey({ tenant: 'acme' })
    expect(Buffer.from(generated.plaintextKey).equals(key)).toBe(true)
    expect(seen[0]).toEqual({
      target: 'GenerateDataKey',
      body: { KeyId: ARN, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme' }, GrantTokens: ['gt'] },
    })
    const decrypted = await keyring.decryptDataKey(generated.encryptedDataKeys, { tenant: 'acme' })
    expect(Buffer.from(decrypted.plaintextKey).equals(key)).toBe(true)
    expect(seen[1]).toEqual({
      target: 'Decrypt',
      body: {
        CiphertextBlob: 'AQID',
        EncryptionContext: { tenant: 'acme' },
        GrantTokens: ['gt'],
        KeyId: ARN,
      },
    })
  })

  it.each([
    ['AccessDeniedException', KeyAccessDeniedError],
    ['com.amazonaws.kms#AccessDeniedException', KeyAccessDeniedError],
    ['DisabledException', KeyDisabledError],
    ['ThrottlingException', KmsThrottledError],
    ['UnrecognizedClientException', ConfigurationError],
    ['KMSInternalException', KmsUnavailableError],
  ])('a real %s response is mapped', async (type, expected) => {
    reply = () => error(type)
    const keyring = new KmsKeyring({
      region: 'us-east-1',
      endpoint,
      credentials,
      maxAttempts: 1,
      generatorKeyId: ARN,
    })
    const err = await keyring
      .decryptDataKey([{ type: WrappingType.AwsKms, keyId: ARN, blob: Uint8Array.of(1) }], {})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(expected)
    expect((err as Error).cause).toBeInstanceOf(Error)
  })

  it('connection refused → KmsUnavailableError', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const { createKmsClient } = await import('@kms-envelope/core')
    const client = createKmsClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials,
      maxAttempts: 1,
    })
    const err = await new KmsKeyring({ client, generatorKeyId: ARN })
      .generateDataKey({})
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KmsUnavailableError)
    expect((err as Error).cause).toBeDefined()
  })
})
