import {
  ConfigurationError,
  KmsEnvelopeError,
  LimitExceededError,
  MalformedCiphertextError,
  TamperedCiphertextError,
  TruncatedCiphertextError,
  UnsupportedFormatError,
} from '@kms-envelope/core'

/** @internal What core's MalformedCiphertextError says about bytes that are not an ESDK message. */
export const NOT_ESDK = {
  subject: 'AWS Encryption SDK message',
  remedy: 'Pass the exact bytes the AWS Encryption SDK produced (not base64 text).',
} as const

/** @internal The remedy of an ESDK suite or version this reader does not know. */
export const UNKNOWN_ESDK_FORMAT_REMEDY =
  'Read it with the AWS Encryption SDK itself; ESDK_SUITES lists the suites EsdkReader reads.'

/** @internal How far an ESDK decryption got when it failed. */
export interface EsdkFailureState {
  /** The first KMS failure, already mapped by core (the ESDK's keyring only keeps its message). */
  readonly kmsError: KmsEnvelopeError | undefined
  /** A data key was recovered: later failures are authentication failures. */
  readonly materialsReady: boolean
  readonly maxEncryptedDataKeys: number
  /** Regions of allowed wrapped keys that had no KMS client. */
  readonly missingRegions: ReadonlySet<string>
}

/**
 * @internal Turn whatever the ESDK threw into one of core's typed errors, with the original as `cause`.
 * Before the data key: header problems (malformed, unsupported, too many EDKs) or the KMS error; after it:
 * any failure is an authentication failure (header auth tag, frame tag, signature) or a truncation.
 */
export function mapEsdkError(err: unknown, state: EsdkFailureState): KmsEnvelopeError {
  if (err instanceof KmsEnvelopeError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (!state.materialsReady) {
    if (state.kmsError) return state.kmsError
    if (state.missingRegions.size > 0) {
      return new ConfigurationError(
        `The message's allowed KMS keys are in ${[...state.missingRegions].join(', ')}, and clientForRegion gave no client there.`,
        'Return a KMSClient for that region from clientForRegion.',
        { cause: err },
      )
    }
    if (message.includes('maxEncryptedDataKeys exceeded')) {
      return new LimitExceededError(
        `The ESDK message carries more encrypted data keys than this reader's maxEncryptedDataKeys (${state.maxEncryptedDataKeys}).`,
        'Raise maxEncryptedDataKeys only if your writers really use that many keys (a message with many wrapped keys makes a reader call KMS many times); otherwise treat the message as hostile.',
        { cause: err },
      )
    }
    if (/Incomplete Header/i.test(message)) {
      return new TruncatedCiphertextError('The ESDK message ends inside its header.', { cause: err })
    }
    if (
      /Unsupported algorithm suite|Not a supported message format version|Unknown contentType/.test(message)
    ) {
      return new UnsupportedFormatError(
        `The ESDK message uses a format this reader does not know (${message}).`,
        { cause: err, remedy: UNKNOWN_ESDK_FORMAT_REMEDY },
      )
    }
    if (/unable to authenticate|Unsupported state/i.test(message)) {
      return new TamperedCiphertextError('The ESDK message header failed authentication.', { cause: err })
    }
    return new MalformedCiphertextError(`the AWS Encryption SDK rejected the message header (${message})`, {
      ...NOT_ESDK,
      cause: err,
    })
  }
  if (/Incomplete message/i.test(message)) {
    return new TruncatedCiphertextError('The ESDK message ended before its final frame or its signature.', {
      cause: err,
    })
  }
  return new TamperedCiphertextError(`The ESDK message failed authentication (${message}).`, { cause: err })
}
