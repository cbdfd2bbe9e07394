import { createHash, createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KmsServiceError } from '../../src/engine/errors.js'
import { verifySignature } from '../../src/transport/sigv4.js'
import type { WireRequest } from '../../src/transport/types.js'
import { signedRequest } from './sign.js'
import { standIn, TEST_CALLER } from './stand-in.js'

const backend = standIn()
const NOW = Date.parse('2026-11-23T12:00:00Z')
const at = (offsetMs: number) => new Date(NOW + offsetMs)
const verify = (request: WireRequest) => verifySignature(backend, request, { now: () => NOW })

async function rejection(request: WireRequest): Promise<KmsServiceError> {
  const err = await verify(request).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(KmsServiceError)
  return err as KmsServiceError
}

/** SigV4 computed by hand from the spec with node:crypto only: an oracle independent of @smithy/signature-v4. */
function specSign(request: WireRequest, secret: string, amzDate: string, region = 'us-east-1'): string {
  const signed = Object.keys(request.headers)
    .filter((h) => h !== 'authorization')
    .sort()
  const canonicalHeaders = signed
    .map((h) => `${h}:${(request.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('')
  const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
  const canonical = ['POST', '/', '', canonicalHeaders, signed.join(';'), sha(request.body)].join('\n')
  const scope = `${amzDate.slice(0, 8)}/${region}/kms/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n')
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), 'kms'), 'aws4_request')
  const signature = createHmac('sha256', kSigning).update(toSign).digest('hex')
  return `AWS4-HMAC-SHA256 Credential=test/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`
}

describe('SigV4 verification', () => {
  it('accepts a correctly signed request and returns the principal behind the access key', async () => {
    expect(await verify(await signedRequest({ date: at(0) }))).toEqual(TEST_CALLER)
    const svc = await verify(
      await signedRequest({ date: at(0), accessKeyId: 'AKIDSERVICE', secretAccessKey: 'service-secret' }),
    )
    expect(svc.principalArn).toBe('arn:aws:iam::444455556666:role/svc')
  })

  it('accepts a signature computed independently from the SigV4 specification', async () => {
    const amzDate = '20261123T120000Z'
    const request: WireRequest = {
      method: 'POST',
      path: '/',
      headers: {
        host: '127.0.0.1:4599',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-date': amzDate,
        'x-amz-target': 'TrentService.GenerateRandom',
        'x-custom': '  spaced   value ',
      },
      body: Buffer.from('{"NumberOfBytes":32}'),
    }
    request.headers.authorization = specSign(request, 'test', amzDate)
    expect(await verify(request)).toEqual(TEST_CALLER)
    request.headers.authorization = specSign(request, 'not-the-secret', amzDate)
    expect((await rejection(request)).type).toBe('InvalidSignatureException')
  })

  it('rejects a tampered signature with AWS message', async () => {
    const request = await signedRequest({ date: at(0) })
    request.headers.authorization = request.headers.authorization!.replace(
      /Signature=(.)/,
      (_, c: string) => `Signature=${c === 'a' ? 'b' : 'a'}`,
    )
    const err = await rejection(request)
    expect(err.type).toBe('InvalidSignatureException')
    expect(err.statusCode).toBe(400)
    expect(err.message).toMatch(
      /^The request signature we calculated does not match the signature you provided/,
    )
  })

  it('a signed header named like an Object member (constructor) is an ordinary header', async () => {
    const request = await signedRequest({
      date: at(0),
      extraHeaders: Object.fromEntries([['constructor', 'c']]),
    })
    expect(request.headers.authorization).toMatch(/SignedHeaders=[^,]*constructor/)
    await expect(verify(request)).resolves.toEqual(TEST_CALLER)
    // Dropped after signing: the signature no longer matches (not a crash on Object's own members).
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([h]) => h !== 'constructor'))
    const err = await rejection({ ...request, headers })
    expect(err.type).toBe('InvalidSignatureException')
  })

  it('rejects a truncated signature', async () => {
    const request = await signedRequest({ date: at(0) })
    request.headers.authorization = request.headers.authorization!.slice(0, -2)
    expect((await rejection(request)).type).toBe('InvalidSignatureException')
  })

  it('rejects a request signed with the wrong secret', async () => {
    const err = await rejection(await signedRequest({ date: at(0), secretAccessKey: 'wrong' }))
    expect(err.type).toBe('InvalidSignatureException')
  })

  it('rejects an unknown access key with UnrecognizedClientException', async () => {
    const err = await rejection(await signedRequest({ date: at(0), accessKeyId: 'AKIDUNKNOWN' }))
    expect(err.type).toBe('UnrecognizedClientException')
    expect(err.message).toBe('The security token included in the request is invalid.')
  })

  it('allows 5 minutes of clock skew and rejects more, both ways', async () => {
    await expect(verify(await signedRequest({ date: at(-4 * 60_000) }))).resolves.toEqual(TEST_CALLER)
    await expect(verify(await signedRequest({ date: at(4 * 60_000) }))).resolves.toEqual(TEST_CALLER)
    const expired = await rejection(await signedRequest({ date: at(-6 * 60_000) }))
    expect(expired.type).toBe('InvalidSignatureException')
    expect(expired.message).toBe(
      'Signature expired: 20261123T115400Z is now earlier than 20261123T115500Z (20261123T120000Z - 5 min.)',
    )
    const future = await rejection(await signedRequest({ date: at(6 * 60_000) }))
    expect(future.message).toMatch(/^Signature not yet current: 20261123T120600Z is still later than/)
  })

  it('rejects a request without Authorization with MissingAuthenticationTokenException', async () => {
    const request = await signedRequest({ date: at(0) })
    delete request.headers.authorization
    const err = await rejection(request)
    expect(err.type).toBe('MissingAuthenticationTokenException')
  })

  it('rejects malformed Authorization headers with IncompleteSignatureException', async () => {
    const request = await signedRequest({ date: at(0) })
    for (const bad of [
      'AWS4-HMAC-SHA1 Credential=test/20261123/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00',
      'AWS4-HMAC-SHA256 Credential=test/20261123/us-east-1/kms/aws4_request, SignedHeaders=host',
      'AWS4-HMAC-SHA256 Credential=test/20261123/us-east-1/kms, SignedHeaders=host;x-amz-date, Signature=00',
      'Bearer abc',
    ]) {
      const err = await rejection({ ...request, headers: { ...request.headers, authorization: bad } })
      expect(err.type).toBe('IncompleteSignatureException')
    }
  })

  it('requires host and x-amz-date among the signed headers', async () => {
    const request = await signedRequest({ date: at(0) })
    expect(request.headers.authorization).toContain(
      'SignedHeaders=content-type;host;x-amz-date;x-amz-target,',
    )
    const withoutHost = request.headers.authorization!.replace(';host;', ';')
    expect(
      (await rejection({ ...request, headers: { ...request.headers, authorization: withoutHost } })).type,
    ).toBe('IncompleteSignatureException')
    const withoutDate = request.headers.authorization!.replace(';x-amz-date', '')
    expect(
      (await rejection({ ...request, headers: { ...request.headers, authorization: withoutDate } })).type,
    ).toBe('IncompleteSignatureException')
  })

  it('rejects a credential scoped to another region, service or date', async () => {
    const region = await rejection(await signedRequest({ date: at(0), region: 'eu-west-1' }))
    expect(region.type).toBe('InvalidSignatureException')
    expect(region.message).toMatch(/valid region/)
    const service = await rejection(await signedRequest({ date: at(0), service: 's3' }))
    expect(service.message).toMatch(/correct service: 'kms'/)
    const request = await signedRequest({ date: at(0) })
    request.headers.authorization = request.headers.authorization!.replace('/20261123/', '/20261122/')
    expect((await rejection(request)).message).toMatch(/Date in Credential scope does not match/)
  })

  it('binds the body through x-amz-content-sha256 when that header is signed', async () => {
    const body = '{"NumberOfBytes":16}'
    const good = await signedRequest({
      date: at(0),
      body,
      extraHeaders: { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') },
    })
    await expect(verify(good)).resolves.toEqual(TEST_CALLER)
    const lying = await signedRequest({
      date: at(0),
      body,
      extraHeaders: { 'x-amz-content-sha256': createHash('sha256').update('{}').digest('hex') },
    })
    expect((await rejection(lying)).type).toBe('InvalidSignatureException')
  })

  it('property: changing any byte of the body or target after signing invalidates the request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.boolean(),
        async (text, position, inTarget) => {
          const body = JSON.stringify({ Description: text })
          const request = await signedRequest({ date: at(0), body })
          await expect(verify(request)).resolves.toEqual(TEST_CALLER)
          if (inTarget) {
            request.headers['x-amz-target'] = 'TrentService.ListAliases'
          } else {
            const bytes = Buffer.from(request.body)
            const i = position % bytes.length
            bytes[i] = (bytes[i] ?? 0) ^ 0x01
            request.body = bytes
          }
          const err = await rejection(request)
          expect(err.type).toBe('InvalidSignatureException')
        },
      ),
      { numRuns: 50 },
    )
  })
})
