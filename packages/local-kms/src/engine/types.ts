/**
 * The identity a KMS call is made as: what SigV4 verification (or the in-process client) resolved the
 * access key to.
 *
 * @example
 * ```ts
 * const caller: CallerIdentity = {
 *   accessKeyId: 'test',
 *   accountId: '111122223333',
 *   principalArn: 'arn:aws:iam::111122223333:root',
 * }
 * ```
 */
export interface CallerIdentity {
  accessKeyId: string
  accountId: string
  principalArn: string
  /** The AWS service the principal calls through (`kms:ViaService`), e.g. `profile.us-east-1.amazonaws.com`. */
  viaService?: string
}

/**
 * `Enabled`, `Disabled` or `PendingDeletion` (the states a local key can be in).
 *
 * @example
 * ```ts
 * const state: KeyState = 'PendingDeletion'
 * ```
 */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion'

/**
 * Encryption context: string keys to string values.
 *
 * @example
 * ```ts
 * const context: EncryptionContext = { tenant: 'acme' }
 * ```
 */
export type EncryptionContext = Record<string, string>

/** One version of a key's backing material. `material` is the AES key (symmetric) or PKCS#8 DER private key. */
export interface MaterialVersion {
  version: number
  createdAt: number
  material: Buffer
}

/** A KMS key as the engine holds it. Internal. */
export interface KeyRecord {
  keyId: string
  accountId: string
  arn: string
  creationDate: number
  description: string
  keySpec: string
  keyUsage: string
  keyState: KeyState
  deletionDate?: number
  pendingWindowInDays?: number
  policy: string
  rotationEnabled: boolean
  rotationPeriodInDays?: number
  nextRotationDate?: number
  rotations: { rotationDate: number; rotationType: 'AUTOMATIC' | 'ON_DEMAND' }[]
  materials: MaterialVersion[]
  tags: { TagKey: string; TagValue: string }[]
}

/** An alias as the engine holds it. Internal. */
export interface AliasRecord {
  accountId: string
  aliasName: string
  targetKeyId: string
  creationDate: number
  lastUpdatedDate: number
}

/** Grant constraints as on the wire. */
export interface GrantConstraints {
  EncryptionContextEquals?: EncryptionContext
  EncryptionContextSubset?: EncryptionContext
}

/** A grant as the engine holds it. Internal. */
export interface GrantRecord {
  grantId: string
  grantToken: string
  keyArn: string
  name?: string
  granteePrincipal: string
  retiringPrincipal?: string
  issuingAccount: string
  operations: string[]
  constraints?: GrantConstraints
  creationDate: number
}

/** A principal that can sign requests, with its access key. */
export interface PrincipalRecord {
  arn: string
  accessKeyId: string
  secretAccessKey: string
  viaService?: string
}

/** An account and its principals. */
export interface AccountRecord {
  id: string
  name?: string
  principals: PrincipalRecord[]
}

/**
 * One CloudTrail-like audit record per call. Never contains plaintext or key material.
 *
 * @example
 * ```ts
 * const denied = engine.auditLog().filter((e) => e.errorCode === 'AccessDeniedException')
 * console.log(denied.map((e) => `${e.eventTime} ${e.userIdentity.arn} ${e.eventName} ${e.resources[0]?.ARN}`))
 * ```
 */
export interface AuditEvent {
  eventVersion: '1.08'
  eventID: string
  /** ISO 8601 time of the call. */
  eventTime: string
  eventSource: 'kms.amazonaws.com'
  eventName: string
  awsRegion: string
  userIdentity: {
    type: 'Root' | 'IAMUser' | 'AssumedRole' | 'AWSService' | 'Unknown'
    arn: string
    accountId: string
    accessKeyId: string
    invokedBy?: string
  }
  /** Non-secret request fields: keyId, encryptionContext, grantTokens, keySpec, numberOfBytes, grantId... */
  requestParameters: Record<string, unknown>
  /** The KMS key the call used, when there was one. */
  resources: { ARN: string; accountId: string; type: 'AWS::KMS::Key' }[]
  /** The account the key belongs to (else the caller's). */
  recipientAccountId: string
  readOnly: boolean
  /** The grant that authorized the call, when the key policy alone did not. */
  grantId?: string
  errorCode?: string
  errorMessage?: string
}
