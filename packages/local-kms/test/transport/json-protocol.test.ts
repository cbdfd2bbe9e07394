import { describe, expect, it, vi } from 'vitest'
import { handleKmsRequest } from '../../src/transport/json-protocol.js'
import { parse, signedRequest } from './sign.js'
import { standIn, TEST_CALLER } from './stand-in.js'

describe('KMS JSON 1.1 protocol', () => {
  it('runs the operation named by X-Amz-Target as the verified caller and answers 200 JSON', async () => {
    const backend = standIn()
    const res = await handleKmsRequest(
      backend,
      await signedRequest({ target: 'TrentService.GenerateRandom', body: '{"NumberOfBytes":4}' }),
    )
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/x-amz-json-1.1')
    expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.headers['x-amzn-errortype']).toBeUndefined()
    expect(parse(res.body)).toEqual({ Plaintext: Buffer.alloc(4, 7).toString('base64') })
    expect(backend.calls).toEqual([
      { operation: 'GenerateRandom', input: { NumberOfBytes: 4 }, caller: TEST_CALLER },
    ])
  })

  it('gives every response its own request id', async () => {
    const backend = standIn()
    const a = await handleKmsRequest(backend, await signedRequest())
    const b = await handleKmsRequest(backend, await signedRequest())
    expect(a.headers['x-amzn-requestid']).not.toBe(b.headers['x-amzn-requestid'])
  })

  it('an empty body is an empty input', async () => {
    const backend = standIn()
    const res = await handleKmsRequest(backend, await signedRequest({ body: '' }))
    expect(res.statusCode).toBe(200)
    expect(backend.calls[0]?.input).toEqual({})
  })

  it('engine errors become AWS-shaped errors: status, __type, message, x-amzn-ErrorType', async () => {
    const backend = standIn()
    const notFound = await handleKmsRequest(
      backend,
      await signedRequest({ target: 'TrentService.DescribeKey', body: '{"KeyId":"nope"}' }),
    )
    expect(notFound.statusCode).toBe(400)
    expect(notFound.headers['x-amzn-errortype']).toBe('NotFoundException')
    expect(parse(notFound.body)).toEqual({
      __type: 'NotFoundException',
      message: "Key 'nope' does not exist",
    })
    const timeout = await handleKmsRequest(
      backend,
      await signedRequest({ target: 'TrentService.GenerateDataKey' }),
    )
    expect(timeout.statusCode).toBe(503)
    expect(parse(timeout.body).__type).toBe('DependencyTimeoutException')
    // AWS sends InvalidCiphertextException without a message.
    const invalid = await handleKmsRequest(backend, await signedRequest({ target: 'TrentService.Decrypt' }))
    expect(parse(invalid.body)).toEqual({ __type: 'InvalidCiphertextException' })
  })

  it('an unexpected error is a 500 KMSInternalException that does not leak the original message', async () => {
    const onInternalError = vi.fn()
    const res = await handleKmsRequest(standIn(), await signedRequest({ target: 'TrentService.Encrypt' }), {
      onInternalError,
    })
    expect(res.statusCode).toBe(500)
    expect(parse(res.body).__type).toBe('KMSInternalException')
    expect(res.body.toString()).not.toContain('s3cr3t')
    expect(onInternalError).toHaveBeenCalledOnce()
    expect(String(onInternalError.mock.calls[0]?.[0])).toContain('a bug')
  })

  it('rejects a bad or missing target with UnknownOperationException, after authentication', async () => {
    const backend = standIn()
    for (const target of ['Foo.ListKeys', 'TrentService.', 'TrentService.List-Keys', 'ListKeys']) {
      const res = await handleKmsRequest(backend, await signedRequest({ target }))
      expect(res.statusCode).toBe(400)
      expect(parse(res.body).__type).toBe('UnknownOperationException')
    }
    const missing = await signedRequest()
    delete missing.headers['x-amz-target']
    // The target was signed: removing it breaks the signature first.
    expect(parse((await handleKmsRequest(backend, missing)).body).__type).toBe('InvalidSignatureException')
    // An operation the backend does not know.
    const unknown = await handleKmsRequest(
      backend,
      await signedRequest({ target: 'TrentService.MakeCoffee' }),
    )
    expect(parse(unknown.body).__type).toBe('UnknownOperationException')
    expect(backend.calls.map((c) => c.operation)).toEqual(['MakeCoffee'])
  })

  it('rejects bad JSON and non-object bodies with SerializationException', async () => {
    const backend = standIn()
    for (const body of ['{"KeyId":', 'null', '[1,2]', '"text"', '42']) {
      const res = await handleKmsRequest(backend, await signedRequest({ body }))
      expect(res.statusCode).toBe(400)
      expect(parse(res.body).__type).toBe('SerializationException')
    }
    expect(backend.calls).toHaveLength(0)
  })

  it('rejects a body that is not declared as application/x-amz-json-1.1', async () => {
    const request = await signedRequest({ extraHeaders: { 'content-type': 'text/plain' } })
    expect(parse((await handleKmsRequest(standIn(), request)).body).__type).toBe('SerializationException')
    const charset = await signedRequest({
      extraHeaders: { 'content-type': 'application/x-amz-json-1.1; charset=utf-8' },
    })
    expect((await handleKmsRequest(standIn(), charset)).statusCode).toBe(200)
  })

  it('only POST / is a KMS operation', async () => {
    const request = await signedRequest()
    const get = await handleKmsRequest(standIn(), { ...request, method: 'GET' })
    expect(get.statusCode).toBe(404)
    expect(parse(get.body).__type).toBe('UnknownOperationException')
    const path = await handleKmsRequest(standIn(), { ...request, path: '/admin' })
    expect(path.statusCode).toBe(404)
  })

  it('authentication errors come before anything else and carry AWS types', async () => {
    const backend = standIn()
    const unsigned = await signedRequest({ body: 'not json' })
    delete unsigned.headers.authorization
    const res = await handleKmsRequest(backend, unsigned)
    expect(parse(res.body).__type).toBe('MissingAuthenticationTokenException')
    const unknownKey = await handleKmsRequest(backend, await signedRequest({ accessKeyId: 'nobody' }))
    expect(parse(unknownKey.body)).toEqual({
      __type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    })
    expect(backend.calls).toHaveLength(0)
  })
})
