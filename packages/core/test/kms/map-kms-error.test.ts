import {
  DependencyTimeoutException,
  DisabledException,
  DryRunOperationException,
  IncorrectKeyException,
  InvalidArnException,
  InvalidCiphertextException,
  InvalidGrantIdException,
  InvalidGrantTokenException,
  InvalidKeyUsageException,
  KeyUnavailableException,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  LimitExceededException,
  NotFoundException,
} from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  type KmsEnvelopeError,
  KmsThrottledError,
  KmsUnavailableError,
  mapKmsError,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import { describe, expect, it } from 'vitest'

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const $metadata = { httpStatusCode: 400, requestId: 'req-1' }
const call = { operation: 'Decrypt', keyId: ARN }

/** A service exception KMS returns that the SDK does not model as a class (e.g. AccessDeniedException). */
function unmodeled(name: string, httpStatusCode = 400, message = `${name} message`): KMSServiceException {
  return new KMSServiceException({ name, $fault: 'client', $metadata: { httpStatusCode }, message })
}

type Case = [string, Error, new (...args: never[]) => KmsEnvelopeError, string, Record<string, unknown>?]

const cases: Case[] = [
  [
    'AccessDeniedException',
    unmodeled('AccessDeniedException'),
    KeyAccessDeniedError,
    'ERR_KEY_ACCESS_DENIED',
    { keyId: ARN, operation: 'Decrypt' },
  ],
  [
    'NotFoundException',
    new NotFoundException({ message: 'not found', $metadata }),
    KeyNotFoundError,
    'ERR_KEY_NOT_FOUND',
    { keyId: ARN },
  ],
  [
    'DisabledException',
    new DisabledException({ message: 'disabled', $metadata }),
    KeyDisabledError,
    'ERR_KEY_DISABLED',
    { keyState: 'Disabled' },
  ],
  [
    'KMSInvalidStateException (pending deletion)',
    new KMSInvalidStateException({ message: `${ARN} is pending deletion.`, $metadata }),
    KeyDisabledError,
    'ERR_KEY_DISABLED',
    { keyState: 'PendingDeletion' },
  ],
  [
    'KMSInvalidStateException (other)',
    new KMSInvalidStateException({ message: `${ARN} is unavailable.`, $metadata }),
    KeyDisabledError,
    'ERR_KEY_DISABLED',
    { keyState: 'Unavailable' },
  ],
  [
    'InvalidCiphertextException',
    new InvalidCiphertextException({ message: '', $metadata }),
    TamperedCiphertextError,
    'ERR_TAMPERED',
  ],
  [
    'IncorrectKeyException',
    new IncorrectKeyException({ message: '', $metadata }),
    InvalidKeyError,
    'ERR_INVALID_KEY',
    { reason: 'INCORRECT_KEY' },
  ],
  [
    'InvalidKeyUsageException',
    new InvalidKeyUsageException({ message: '', $metadata }),
    InvalidKeyError,
    'ERR_INVALID_KEY',
    { reason: 'KEY_USAGE' },
  ],
  [
    'InvalidGrantTokenException',
    new InvalidGrantTokenException({ message: '', $metadata }),
    KeyAccessDeniedError,
    'ERR_KEY_ACCESS_DENIED',
  ],
  [
    'InvalidGrantIdException',
    new InvalidGrantIdException({ message: '', $metadata }),
    KeyAccessDeniedError,
    'ERR_KEY_ACCESS_DENIED',
  ],
  [
    'KeyUnavailableException',
    new KeyUnavailableException({ message: '', $metadata }),
    KmsUnavailableError,
    'ERR_KMS_UNAVAILABLE',
  ],
  ['ThrottlingException', unmodeled('ThrottlingException'), KmsThrottledError, 'ERR_KMS_THROTTLED'],
  [
    'LimitExceededException',
    new LimitExceededException({ message: '', $metadata }),
    KmsThrottledError,
    'ERR_KMS_THROTTLED',
  ],
  ['HTTP 429', unmodeled('SomethingNew', 429), KmsThrottledError, 'ERR_KMS_THROTTLED'],
  [
    'KMSInternalException',
    new KMSInternalException({ message: '', $metadata }),
    KmsUnavailableError,
    'ERR_KMS_UNAVAILABLE',
  ],
  [
    'DependencyTimeoutException',
    new DependencyTimeoutException({ message: '', $metadata }),
    KmsUnavailableError,
    'ERR_KMS_UNAVAILABLE',
  ],
  [
    'UnrecognizedClientException',
    unmodeled('UnrecognizedClientException'),
    ConfigurationError,
    'ERR_CONFIGURATION',
  ],
  [
    'InvalidSignatureException',
    unmodeled('InvalidSignatureException'),
    ConfigurationError,
    'ERR_CONFIGURATION',
  ],
  ['ExpiredTokenException', unmodeled('ExpiredTokenException'), ConfigurationError, 'ERR_CONFIGURATION'],
  [
    'InvalidArnException',
    new InvalidArnException({ message: '', $metadata }),
    ConfigurationError,
    'ERR_CONFIGURATION',
  ],
  ['ValidationException', unmodeled('ValidationException'), ConfigurationError, 'ERR_CONFIGURATION'],
  [
    'DryRunOperationException',
    new DryRunOperationException({ message: '', $metadata }),
    ConfigurationError,
    'ERR_CONFIGURATION',
  ],
  [
    'unknown service exception',
    unmodeled('BrandNewException', 500),
    KmsUnavailableError,
    'ERR_KMS_UNAVAILABLE',
  ],
]

function network(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code, syscall: 'connect' })
}

describe('mapKmsError', () => {
  it.each(cases)('%s', (_label, kmsError, type, code, fields) => {
    const mapped = mapKmsError(kmsError, call)
    expect(mapped).toBeInstanceOf(type)
    expect(mapped.code).toBe(code)
    expect(mapped.cause).toBe(kmsError)
    if (fields) expect(mapped).toMatchObject(fields)
    // Every message says what to do.
    expect(mapped.remedy.length).toBeGreaterThan(20)
  })

  it('InvalidCiphertextException says the wrapped key or encryption context does not match', () => {
    const mapped = mapKmsError(new InvalidCiphertextException({ message: '', $metadata }), call)
    expect(mapped.message).toMatch(/wrapped key or the encryption context does not match/)
    expect(mapped.message).toContain(ARN)
  })

  it('grant failures name the grant', () => {
    expect(mapKmsError(new InvalidGrantTokenException({ message: '', $metadata }), call).message).toMatch(
      /grant token was rejected/,
    )
    expect(mapKmsError(new InvalidGrantIdException({ message: '', $metadata }), call).message).toMatch(
      /grant id was rejected/,
    )
  })

  it('credential failures talk about credentials', () => {
    expect(mapKmsError(unmodeled('ExpiredTokenException'), call).message).toMatch(/credentials/)
  })

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN'])(
    'network error %s → KmsUnavailableError',
    (code) => {
      const err = network(code)
      const mapped = mapKmsError(err, call)
      expect(mapped).toBeInstanceOf(KmsUnavailableError)
      expect(mapped.cause).toBe(err)
    },
  )

  it('SDK TimeoutError → KmsUnavailableError', () => {
    const err = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' })
    expect(mapKmsError(err, call)).toBeInstanceOf(KmsUnavailableError)
  })

  it('recognises the exception from __type when name is generic', () => {
    const err = Object.assign(new Error('denied'), { __type: 'com.amazonaws.kms#AccessDeniedException' })
    expect(mapKmsError(err, call)).toBeInstanceOf(KeyAccessDeniedError)
    const err2 = Object.assign(new Error('nf'), { __type: 'NotFoundException:http://internal' })
    expect(mapKmsError(err2, call)).toBeInstanceOf(KeyNotFoundError)
  })

  it('names the refused principal when the caller knows it', () => {
    const role = 'arn:aws:iam::111122223333:role/PersonalizeRole'
    const mapped = mapKmsError(unmodeled('AccessDeniedException'), { ...call, principal: role })
    expect(mapped).toBeInstanceOf(KeyAccessDeniedError)
    expect((mapped as KeyAccessDeniedError).principal).toBe(role)
    expect(mapped.message).toContain(`kms:Decrypt as ${role}`)
    expect(mapped.remedy).toContain(`Allow kms:Decrypt for ${role}`)
    const anonymous = mapKmsError(unmodeled('AccessDeniedException'), call) as KeyAccessDeniedError
    expect(anonymous.principal).toBeUndefined()
    expect(anonymous.remedy).toContain('for this principal')
  })

  it('an already mapped error passes through unchanged', () => {
    const mine = new KeyNotFoundError(ARN)
    expect(mapKmsError(mine, call)).toBe(mine)
  })

  it('non-Error values become KmsUnavailableError with the value as cause', () => {
    const mapped = mapKmsError('weird', { operation: 'Encrypt' })
    expect(mapped).toBeInstanceOf(KmsUnavailableError)
    expect(mapped.cause).toBe('weird')
    expect(mapped.message).toContain('Encrypt')
  })

  it('never puts the KMS request payload into the message', () => {
    const secret = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='
    const mapped = mapKmsError(unmodeled('AccessDeniedException', 400, `denied ${secret}`), call)
    expect(mapped.message).not.toContain(secret)
  })
})
