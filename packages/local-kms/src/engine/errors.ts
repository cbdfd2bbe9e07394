/**
 * An error the local KMS returns to its caller exactly as AWS KMS would put it on the wire: `type` is the
 * JSON 1.1 `__type` (e.g. `NotFoundException`), `message` the AWS-style message, `statusCode` the HTTP status.
 *
 * @example
 * ```ts
 * try {
 *   await engine.call('Decrypt', { CiphertextBlob: blob }, caller)
 * } catch (err) {
 *   if (err instanceof KmsServiceError && err.type === 'DisabledException') console.log(err.statusCode)
 * }
 * ```
 */
export class KmsServiceError extends Error {
  constructor(
    /** The wire `__type`, e.g. `NotFoundException`. */
    readonly type: string,
    message: string,
    /** HTTP status code the transport should answer with. */
    readonly statusCode = 400,
  ) {
    super(message)
    this.name = type
  }
}

/**
 * A configuration or environment problem of the local KMS itself (data directory locked, seed invalid,
 * master key unreadable). Not a KMS wire error: it is thrown by `LocalKmsEngine.open`, never by `call`.
 *
 * @example
 * ```ts
 * try {
 *   await LocalKmsEngine.open({ dataDir: '.local-kms' })
 * } catch (err) {
 *   if (err instanceof LocalKmsError && err.code === 'ERR_LOCAL_KMS_LOCKED') console.error(err.message)
 * }
 * ```
 */
export class LocalKmsError extends Error {
  /** Stable code: `ERR_LOCAL_KMS_LOCKED`, `ERR_LOCAL_KMS_SEED`, `ERR_LOCAL_KMS_STATE`, `ERR_LOCAL_KMS_CLOSED`, `ERR_LOCAL_KMS_POLICY`, `ERR_LOCAL_KMS_OPTION` (an invalid engine option). */
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.name = 'LocalKmsError'
  }
}

/** Shorthands for the KMS exceptions the engine raises. Internal. */
export const fail = {
  validation: (message: string) => new KmsServiceError('ValidationException', message),
  notFound: (message: string) => new KmsServiceError('NotFoundException', message),
  disabled: (arn: string) => new KmsServiceError('DisabledException', `${arn} is disabled.`),
  pendingDeletion: (arn: string) =>
    new KmsServiceError('KMSInvalidStateException', `${arn} is pending deletion.`),
  invalidState: (message: string) => new KmsServiceError('KMSInvalidStateException', message),
  invalidCiphertext: () =>
    new KmsServiceError(
      'InvalidCiphertextException',
      'The ciphertext is invalid, was modified, or the encryption context does not match the one it was encrypted with.',
    ),
  incorrectKey: () =>
    new KmsServiceError(
      'IncorrectKeyException',
      'The key ID in the request does not identify a KMS key that can perform this operation.',
    ),
  keyUsage: (message: string) => new KmsServiceError('InvalidKeyUsageException', message),
  unsupported: (message: string) => new KmsServiceError('UnsupportedOperationException', message),
  alreadyExists: (message: string) => new KmsServiceError('AlreadyExistsException', message),
  dryRun: () =>
    new KmsServiceError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
      412,
    ),
  invalidGrantToken: () => new KmsServiceError('InvalidGrantTokenException', 'Invalid grant token.'),
  invalidGrantId: () => new KmsServiceError('InvalidGrantIdException', 'Invalid grant ID.'),
  invalidArn: (message: string) => new KmsServiceError('InvalidArnException', message),
  malformedPolicy: (message: string) => new KmsServiceError('MalformedPolicyDocumentException', message),
  tag: (message: string) => new KmsServiceError('TagException', message),
  invalidMarker: () => new KmsServiceError('InvalidMarkerException', 'The marker is not valid.'),
  invalidAlias: (message: string) => new KmsServiceError('InvalidAliasNameException', message),
  limitExceeded: (message: string) => new KmsServiceError('LimitExceededException', message),
}
