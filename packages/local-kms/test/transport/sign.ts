// Test helper: builds a SigV4-signed KMS request the way an SDK would, as a WireRequest.
import { Hash } from '@smithy/hash-node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import type { WireRequest } from '../../src/transport/types.js'

export interface SignOptions {
  target?: string
  body?: string
  accessKeyId?: string
  secretAccessKey?: string
  region?: string
  service?: string
  date?: Date
  extraHeaders?: Record<string, string>
  /** Query parameters, signed (KMS clients send none; the server must still verify them). */
  query?: Record<string, string>
}

export async function signedRequest(options: SignOptions = {}): Promise<WireRequest> {
  const body = options.body ?? '{}'
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 4599,
    path: '/',
    ...(options.query ? { query: options.query } : {}),
    headers: {
      host: '127.0.0.1:4599',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': options.target ?? 'TrentService.ListKeys',
      ...options.extraHeaders,
    },
    body,
  })
  const signer = new SignatureV4({
    service: options.service ?? 'kms',
    region: options.region ?? 'us-east-1',
    credentials: {
      accessKeyId: options.accessKeyId ?? 'test',
      secretAccessKey: options.secretAccessKey ?? 'test',
    },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  })
  const signed = await signer.sign(request, { signingDate: options.date ?? new Date() })
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v
  return {
    method: 'POST',
    path: '/',
    ...(options.query ? { query: { ...options.query } } : {}),
    headers,
    body: Buffer.from(body),
  }
}

export function parse(body: Buffer): Record<string, unknown> {
  return JSON.parse(body.toString('utf8')) as Record<string, unknown>
}
