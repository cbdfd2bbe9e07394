import { clip } from './clip.js'

/**
 * Control characters (C0, DEL, C1, line and paragraph separators) escaped as `\uXXXX`: messages name values
 * read from unauthenticated headers (key ids, scope ids, context keys), which must not inject lines or
 * terminal escapes into logs.
 */
function escapeControls(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/**
 * One error hierarchy for the whole library. Every error has a stable `code` (safe to switch on, never
 * renamed), a message that says what happened and what to do, and the underlying `cause` when there is one.
 *
 * @example
 * ```ts
 * import { KmsEnvelopeError, EncryptionContextMismatchError } from '@kms-envelope/core'
 * try {
 *   await envelope.decrypt(ciphertext, { expectedContext: { tenant: 'acme' } })
 * } catch (err) {
 *   if (err instanceof EncryptionContextMismatchError) console.error(err.code, err.message)
 *   else if (err instanceof KmsEnvelopeError) console.error(err.code)
 *   else throw err
 * }
 * ```
 */
export class KmsEnvelopeError extends Error {
  /** Stable machine-readable code, e.g. `ERR_TAMPERED`. */
  readonly code: string
  /** What the caller can do about it. Also appended to `message`. */
  readonly remedy: string

  constructor(code: string, message: string, remedy: string, options?: { cause?: unknown }) {
    super(
      escapeControls(remedy ? `${message} ${remedy}` : message),
      options?.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.remedy = escapeControls(remedy)
    this.name = new.target.name
  }
}

/** The ciphertext failed authentication: it was modified, corrupted, or encrypted under another key or context. */
export class TamperedCiphertextError extends KmsEnvelopeError {
  constructor(detail = 'The ciphertext failed authentication.', options?: { cause?: unknown }) {
    super(
      'ERR_TAMPERED',
      `${detail} It was modified, corrupted, or was not produced by kms-envelope with this data key.`,
      'Do not use any part of it; restore the message from a trusted copy.',
      options,
    )
  }
}

/** The ciphertext or stream ended before its final frame: data is missing. */
export class TruncatedCiphertextError extends KmsEnvelopeError {
  constructor(detail = 'The ciphertext ended before its final frame.', options?: { cause?: unknown }) {
    super(
      'ERR_TRUNCATED',
      detail,
      'The message is incomplete (an interrupted upload or copy?): fetch the whole object again. Plaintext already delivered for earlier frames is authentic but incomplete; discard it.',
      options,
    )
  }
}

/** The bytes are not a kms-envelope message, or a header field is out of range. */
export class MalformedCiphertextError extends KmsEnvelopeError {
  /**
   * `options.subject` names what was expected (default `kms-envelope message`) and `options.remedy` replaces
   * the default remedy, for readers of other formats (e.g. AWS Encryption SDK messages).
   */
  constructor(detail: string, options?: { cause?: unknown; subject?: string; remedy?: string }) {
    super(
      'ERR_MALFORMED',
      `Not a valid ${options?.subject ?? 'kms-envelope message'}: ${detail}.`,
      options?.remedy ??
        'Check that you pass the exact bytes that encrypt() produced (not base64 text, not a different object).',
      options,
    )
  }
}

/** The message uses a format version or algorithm suite this library does not know. */
export class UnsupportedFormatError extends KmsEnvelopeError {
  /** `options.remedy` replaces the default remedy, for readers of other formats. */
  constructor(detail: string, options?: { cause?: unknown; remedy?: string }) {
    super(
      'ERR_UNSUPPORTED_FORMAT',
      detail,
      options?.remedy ??
        'Upgrade @kms-envelope/core to a version that reads it (see docs/FORMAT.md for the versions).',
      options,
    )
  }
}

/** The message's encryption context does not contain what the caller required. */
export class EncryptionContextMismatchError extends KmsEnvelopeError {
  readonly key: string
  constructor(key: string, detail: string) {
    super(
      'ERR_CONTEXT_MISMATCH',
      `Encryption context mismatch on "${key}": ${detail}.`,
      'The message belongs to another resource or tenant; pass the expectedContext it was encrypted with, or do not decrypt it here.',
    )
    this.key = key
  }
}

/** An encryption context given to encrypt() is not acceptable. */
export class InvalidEncryptionContextError extends KmsEnvelopeError {
  constructor(detail: string) {
    super(
      'ERR_INVALID_CONTEXT',
      `Invalid encryption context: ${detail}.`,
      'Use non-empty string keys and string values; keys starting with "aws:" or "kms-envelope:" are reserved.',
    )
  }
}

/** The caller may not use the KMS key: no key-policy statement, IAM permission or grant allows it. */
export class KeyAccessDeniedError extends KmsEnvelopeError {
  readonly keyId: string | undefined
  readonly operation: string | undefined
  /** The principal that was refused (e.g. a role ARN), when the caller knows it. */
  readonly principal: string | undefined
  constructor(
    keyId: string | undefined,
    operation: string | undefined,
    options?: { cause?: unknown; principal?: string | undefined },
  ) {
    const who = options?.principal
    super(
      'ERR_KEY_ACCESS_DENIED',
      `Access denied to KMS key ${keyId ?? '(unknown)'}${operation ? ` for kms:${operation}` : ''}${who ? ` as ${who}` : ''}.`,
      `Allow kms:${operation ?? '<operation>'} for ${who ?? 'this principal'} in the key policy or IAM, or create a grant for it (and pass its grant token until the grant is consistent); if the data was protected by a grant that was revoked or retired, it stays unreadable until a new grant exists.`,
      options,
    )
    this.keyId = keyId
    this.operation = operation
    this.principal = who
  }
}

/** The KMS key is disabled or pending deletion, so KMS refuses to use it. */
export class KeyDisabledError extends KmsEnvelopeError {
  readonly keyId: string | undefined
  readonly keyState: 'Disabled' | 'PendingDeletion' | 'Unavailable' | string
  constructor(keyId: string | undefined, keyState: string, options?: { cause?: unknown }) {
    const remedy =
      keyState === 'PendingDeletion'
        ? 'Cancel the key deletion (CancelKeyDeletion) and enable the key to read this data; after deletion it is gone for good.'
        : 'Enable the key (EnableKey) to read or write this data, or switch the data to another key.'
    super('ERR_KEY_DISABLED', `KMS key ${keyId ?? '(unknown)'} is ${keyState}.`, remedy, options)
    this.keyId = keyId
    this.keyState = keyState
  }
}

/** The KMS key does not exist (or is not visible to the caller in that region/account). */
export class KeyNotFoundError extends KmsEnvelopeError {
  readonly keyId: string | undefined
  constructor(keyId: string | undefined, options?: { cause?: unknown }) {
    super(
      'ERR_KEY_NOT_FOUND',
      `KMS key ${keyId ?? '(unknown)'} was not found.`,
      'Check the key ARN, region and account; keys in another account must be named by full key ARN.',
      options,
    )
    this.keyId = keyId
  }
}

/** The KMS key exists but is not usable for envelope encryption (wrong spec, usage, owner or a wrong-key decrypt). */
export class InvalidKeyError extends KmsEnvelopeError {
  readonly keyId: string | undefined
  readonly reason: 'KEY_SPEC' | 'KEY_USAGE' | 'OWNER' | 'INCORRECT_KEY' | 'NOT_ALLOWED'
  constructor(
    keyId: string | undefined,
    reason: InvalidKeyError['reason'],
    detail: string,
    remedy: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_INVALID_KEY',
      `KMS key ${keyId === undefined ? '(unknown)' : clip(keyId)} cannot be used: ${detail}.`,
      remedy,
      options,
    )
    this.keyId = keyId
    this.reason = reason
  }
}

/** KMS throttled the request and the SDK's retries did not get through. */
export class KmsThrottledError extends KmsEnvelopeError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(
      'ERR_KMS_THROTTLED',
      `KMS throttled ${operation} after the SDK's retries.`,
      'Retry later with backoff, raise the data-key cache limits so fewer KMS calls are made, or request a higher KMS quota.',
      options,
    )
  }
}

/** KMS failed or could not be reached (internal error, dependency timeout, network). */
export class KmsUnavailableError extends KmsEnvelopeError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(
      'ERR_KMS_UNAVAILABLE',
      `KMS did not complete ${operation}.`,
      'This is usually transient: retry with backoff; check network access to the KMS endpoint and the AWS Health dashboard.',
      options,
    )
  }
}

/** A usage limit (message size, frames, messages or bytes per data key) would be exceeded. */
export class LimitExceededError extends KmsEnvelopeError {
  constructor(detail: string, remedy: string, options?: { cause?: unknown }) {
    super('ERR_LIMIT_EXCEEDED', detail, remedy, options)
  }
}

/** The library was configured in a way that is unsafe or inconsistent. */
export class ConfigurationError extends KmsEnvelopeError {
  constructor(detail: string, remedy: string, options?: { cause?: unknown }) {
    super('ERR_CONFIGURATION', detail, remedy, options)
  }
}

/** The key used by a message was destroyed on purpose (crypto-shredding): the data is gone for good. */
export class KeyDestroyedError extends KmsEnvelopeError {
  readonly destroyedAt: string | undefined
  readonly destroyedBy: string | undefined
  constructor(what: string, destroyedAt?: string, destroyedBy?: string) {
    super(
      'ERR_KEY_DESTROYED',
      `${what} was destroyed${destroyedAt ? ` at ${destroyedAt}` : ''}${destroyedBy ? ` by ${destroyedBy}` : ''}; data under it cannot be decrypted by anyone.`,
      'This is intended after crypto-shredding; delete the remaining ciphertext. If it was a mistake, restore the key store from a backup made before the destruction.',
    )
    this.destroyedAt = destroyedAt
    this.destroyedBy = destroyedBy
  }
}

/** The scope-key store failed, is locked, holds a corrupt record, or lacks a referenced scope key version. */
export class KeyStoreError extends KmsEnvelopeError {
  readonly reason: 'NOT_FOUND' | 'UNAVAILABLE' | 'LOCKED' | 'CORRUPT' | 'CONFLICT'
  constructor(
    reason: KeyStoreError['reason'],
    detail: string,
    remedy: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_KEY_STORE', detail, remedy, options)
    this.reason = reason
  }
}

/** KMS answered, but with a response that cannot be right (missing fields, wrong key id, wrong key length). */
export class UnexpectedKmsResponseError extends KmsEnvelopeError {
  readonly operation: string
  constructor(operation: string, detail: string) {
    super(
      'ERR_KMS_RESPONSE',
      `KMS returned an unusable ${operation} response: ${detail}.`,
      'Check that the endpoint is AWS KMS (or a faithful emulator) and that the key is a symmetric encryption key.',
    )
    this.operation = operation
  }
}
