/**
 * Every failure of a KMS call becomes one typed core error with the original as `cause`, so callers can
 * switch on `code` and still see what KMS said. Covers the exceptions GenerateDataKey, Encrypt, Decrypt,
 * ReEncrypt, GenerateDataKeyWithoutPlaintext and DescribeKey can throw, plus credential and network failures.
 */
import {
  ConfigurationError,
  InvalidKeyError,
  KeyAccessDeniedError,
  KeyDisabledError,
  KeyNotFoundError,
  KmsEnvelopeError,
  KmsThrottledError,
  KmsUnavailableError,
  TamperedCiphertextError,
} from '../errors/errors.js'

/** What the failed call was: the KMS operation (e.g. `Decrypt`) and the key it named. */
export interface KmsCallInfo {
  readonly operation: string
  readonly keyId?: string | undefined
  /** Who made the call (e.g. a role ARN), named in access-denied errors when known. */
  readonly principal?: string | undefined
}

const THROTTLED = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ThrottledException',
  'Throttling',
  'SlowDown',
])

const CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'SignatureDoesNotMatch',
  'RequestExpired',
  'AuthFailure',
  'CredentialsProviderError',
])

const UNAVAILABLE = new Set([
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
])

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'ERR_HTTP2_STREAM_ERROR',
])

interface ErrorShape {
  name?: unknown
  code?: unknown
  Code?: unknown
  __type?: unknown
  message?: unknown
  $metadata?: { httpStatusCode?: unknown }
}

/** The exception name, from `name`, `__type` (`com.amazonaws.kms#X` or `X:`), or `Code`. */
function exceptionNames(err: ErrorShape): string[] {
  const names: string[] = []
  for (const raw of [err.name, err.__type, err.Code]) {
    if (typeof raw !== 'string' || raw.length === 0) continue
    const short = raw.split('#').pop()!.split(':')[0]!
    names.push(short)
  }
  return names
}

/** The key state named by a KMSInvalidStateException message. */
function stateFromMessage(message: string): string {
  if (/pending ?deletion/i.test(message)) return 'PendingDeletion'
  if (/pending ?replica ?deletion/i.test(message)) return 'PendingReplicaDeletion'
  if (/pending ?import/i.test(message)) return 'PendingImport'
  if (/disabled/i.test(message)) return 'Disabled'
  if (/creating/i.test(message)) return 'Creating'
  if (/updating/i.test(message)) return 'Updating'
  return 'Unavailable'
}

function mapByName(
  name: string,
  err: ErrorShape,
  call: KmsCallInfo,
  cause: unknown,
): KmsEnvelopeError | undefined {
  const { operation, keyId, principal } = call
  const message = typeof err.message === 'string' ? err.message : ''
  switch (name) {
    case 'AccessDeniedException':
    case 'AccessDenied':
      return new KeyAccessDeniedError(keyId, operation, { cause, principal })
    case 'InvalidGrantTokenException':
    case 'InvalidGrantIdException': {
      const denied = new KeyAccessDeniedError(keyId, operation, { cause, principal })
      denied.message = `The grant ${name === 'InvalidGrantIdException' ? 'id' : 'token'} was rejected by KMS (malformed, expired, or for another key). ${denied.message}`
      return denied
    }
    case 'NotFoundException':
      return new KeyNotFoundError(keyId, { cause })
    case 'DisabledException':
      return new KeyDisabledError(keyId, 'Disabled', { cause })
    case 'KMSInvalidStateException':
      return new KeyDisabledError(keyId, stateFromMessage(message), { cause })
    case 'InvalidCiphertextException':
      return new TamperedCiphertextError(
        `KMS could not ${operation} the wrapped data key under ${keyId ?? 'the KMS key'}: the wrapped key or the encryption context does not match.`,
        { cause },
      )
    case 'IncorrectKeyException':
      return new InvalidKeyError(
        keyId,
        'INCORRECT_KEY',
        'the wrapped data key was encrypted under a different KMS key',
        'Decrypt with the KMS key named in the message header (inspect() lists it), or add that key to the keyring.',
        { cause },
      )
    case 'InvalidKeyUsageException':
      return new InvalidKeyError(
        keyId,
        'KEY_USAGE',
        `its key usage or key spec does not allow kms:${operation}`,
        'Use a symmetric (SYMMETRIC_DEFAULT) KMS key with key usage ENCRYPT_DECRYPT.',
        { cause },
      )
    case 'InvalidArnException':
    case 'ValidationException':
      return new ConfigurationError(
        `KMS rejected the ${operation} request for key ${keyId ?? '(unknown)'} as invalid (${name}).`,
        'Check the key id or ARN (key ARNs for keys in other accounts) and the encryption context (string pairs).',
        { cause },
      )
    case 'DryRunOperationException':
      return new ConfigurationError(
        `KMS answered ${operation} as a dry run: no data key was produced.`,
        'Do not set DryRun on the KMS client or its middleware when used with kms-envelope.',
        { cause },
      )
  }
  if (THROTTLED.has(name)) return new KmsThrottledError(operation, { cause })
  if (CREDENTIALS.has(name)) {
    return new ConfigurationError(
      `KMS rejected the AWS credentials for kms:${operation} (${name}).`,
      'Check the access key, secret and session token (refresh expired temporary credentials), and the system clock (signatures expire after 5 minutes of skew).',
      { cause },
    )
  }
  if (UNAVAILABLE.has(name)) return new KmsUnavailableError(operation, { cause })
  return undefined
}

/**
 * Map any error thrown by `KMSClient#send` to a {@link KmsEnvelopeError} (already mapped errors pass
 * through). The original error is always the `cause`.
 *
 * | KMS exception | core error |
 * | --- | --- |
 * | AccessDeniedException | KeyAccessDeniedError |
 * | InvalidGrantTokenException, InvalidGrantIdException | KeyAccessDeniedError (message names the grant) |
 * | NotFoundException | KeyNotFoundError |
 * | DisabledException, KMSInvalidStateException | KeyDisabledError (`keyState`) |
 * | InvalidCiphertextException | TamperedCiphertextError |
 * | IncorrectKeyException | InvalidKeyError `INCORRECT_KEY` |
 * | InvalidKeyUsageException | InvalidKeyError `KEY_USAGE` |
 * | ThrottlingException, LimitExceededException, HTTP 429 | KmsThrottledError |
 * | UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException, … | ConfigurationError |
 * | InvalidArnException, ValidationException, DryRunOperationException | ConfigurationError |
 * | KMSInternalException, DependencyTimeoutException, KeyUnavailableException, network, anything else | KmsUnavailableError |
 *
 * @example
 * ```ts
 * import { DecryptCommand } from '@aws-sdk/client-kms'
 * import { mapKmsError } from '@kms-envelope/core'
 *
 * try {
 *   await client.send(new DecryptCommand({ KeyId: arn, CiphertextBlob: blob }))
 * } catch (err) {
 *   throw mapKmsError(err, { operation: 'Decrypt', keyId: arn })
 * }
 * ```
 */
export function mapKmsError(err: unknown, call: KmsCallInfo): KmsEnvelopeError {
  if (err instanceof KmsEnvelopeError) return err
  const shape: ErrorShape = typeof err === 'object' && err !== null ? (err as ErrorShape) : {}
  for (const name of exceptionNames(shape)) {
    const mapped = mapByName(name, shape, call, err)
    if (mapped) return mapped
  }
  const status = shape.$metadata?.httpStatusCode
  if (status === 429) return new KmsThrottledError(call.operation, { cause: err })
  if (typeof shape.code === 'string') {
    const byCode = mapByName(shape.code, shape, call, err)
    if (byCode) return byCode
    if (NETWORK_CODES.has(shape.code)) return new KmsUnavailableError(call.operation, { cause: err })
  }
  return new KmsUnavailableError(call.operation, { cause: err })
}
