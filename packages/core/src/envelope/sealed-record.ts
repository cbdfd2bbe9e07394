/**
 * Sealed records: small JSON records (which key protects a resource, which role may use it…) encrypted under
 * a service's own key with an exact encryption context naming what they describe, so that write access to
 * where they are stored cannot edit, forge or swap them. One place decides which failures mean "not an
 * authentic record of this resource", so every adapter classifies them alike.
 */

import type { KMSClient } from '@aws-sdk/client-kms'
import {
  EncryptionContextMismatchError,
  InvalidKeyError,
  KmsEnvelopeError,
  MalformedCiphertextError,
  TamperedCiphertextError,
  TruncatedCiphertextError,
  UnsupportedFormatError,
} from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'
import { type KeyRef, serviceOwnedKey } from '../kms/key-ref.js'
import { KmsKeyring } from '../kms/kms-keyring.js'
import { type KeySummary, validateKey } from '../kms/validate-key.js'
import { Envelope } from './envelope.js'
import { inspect } from './inspect.js'

/**
 * Why a sealed record did not open: sealed for another context (another resource's record, or another
 * revision), not authentic (edited, truncated, forged under another key, not a sealed record at all), or
 * authentic but not JSON.
 *
 * @example
 * ```ts
 * const reason: SealedRecordProblem = 'OTHER_CONTEXT'
 * ```
 */
export type SealedRecordProblem = 'OTHER_CONTEXT' | 'TAMPERED' | 'NOT_JSON'

/**
 * A sealed record is not an authentic record for the context it was opened with. `sealedFor` is the context
 * its header names (unauthenticated: for the message only), `sealedUnder` the keys it names.
 *
 * @example
 * ```ts
 * try {
 *   await openSealedJson(envelope, bytes, { project: 'p1', object: 'project-record' })
 * } catch (err) {
 *   if (err instanceof SealedRecordError && err.reason === 'OTHER_CONTEXT') console.error(err.sealedFor)
 * }
 * ```
 */
export class SealedRecordError extends KmsEnvelopeError {
  readonly reason: SealedRecordProblem
  readonly sealedFor: EncryptionContext | undefined
  readonly sealedUnder: readonly string[]
  constructor(reason: SealedRecordProblem, detail: string, bytes: Uint8Array, cause: unknown) {
    let sealedFor: EncryptionContext | undefined
    let sealedUnder: readonly string[] = []
    try {
      const info = inspect(bytes)
      sealedFor = info.context
      sealedUnder = info.encryptedDataKeys.map((k) => k.keyId)
    } catch {
      // Not even a readable header: nothing to show.
    }
    super(
      'ERR_SEALED_RECORD',
      `The sealed record is ${detail}.`,
      'Restore the record from a backup; do not edit sealed records by hand. If it is another resource’s record, it was copied or moved to the wrong place.',
      { cause },
    )
    this.reason = reason
    this.sealedFor = sealedFor
    this.sealedUnder = sealedUnder
  }
}

/**
 * Seal `value` (JSON) under the envelope's key with exactly `context` naming what it describes. Open it with
 * {@link openSealedJson} and the same context.
 *
 * @example
 * ```ts
 * import { Envelope, KmsKeyring, sealJson } from '@kms-envelope/core'
 * const sealer = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId: serviceKeyArn }) })
 * const bytes = await sealJson(sealer, { keyArn: customerKeyArn }, { project: 'p1', object: 'project-record' })
 * ```
 */
export function sealJson(
  envelope: Envelope,
  value: unknown,
  context: EncryptionContext,
): Promise<Uint8Array> {
  return envelope.encryptJson(value, { context })
}

/**
 * Open a record sealed by {@link sealJson}: the header must name exactly `context` (checked before any KMS
 * call) and the record must authenticate under the envelope's keyring (use a strict keyring listing only the
 * service key). Throws {@link SealedRecordError} when it is not an authentic record for `context`; KMS errors
 * (key disabled, access denied, throttled) pass through as they are. The caller still checks the fields.
 *
 * @example
 * ```ts
 * import { openSealedJson } from '@kms-envelope/core'
 * const record = await openSealedJson<{ keyArn: string }>(sealer, bytes, { project: 'p1', object: 'project-record' })
 * ```
 */
export async function openSealedJson<T = unknown>(
  envelope: Envelope,
  bytes: Uint8Array,
  context: EncryptionContext,
): Promise<T> {
  let text: string
  try {
    text = await envelope.decryptString(bytes, { context })
  } catch (err) {
    if (err instanceof EncryptionContextMismatchError) {
      throw new SealedRecordError(
        'OTHER_CONTEXT',
        `sealed for another context (differs on "${err.key}")`,
        bytes,
        err,
      )
    }
    // Postcondition: failures that say "not authentic under the allowed key" are one kind, whatever layer saw them.
    if (
      err instanceof TamperedCiphertextError ||
      err instanceof TruncatedCiphertextError ||
      err instanceof MalformedCiphertextError ||
      err instanceof UnsupportedFormatError ||
      (err instanceof InvalidKeyError && (err.reason === 'NOT_ALLOWED' || err.reason === 'INCORRECT_KEY'))
    ) {
      throw new SealedRecordError(
        'TAMPERED',
        'not authentic (edited, cut, or sealed under another key)',
        bytes,
        err,
      )
    }
    throw err
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw new SealedRecordError('NOT_JSON', 'authentic but not JSON', bytes, err)
  }
}

/**
 * Options of {@link SealedRecords}.
 *
 * @example
 * ```ts
 * const options: SealedRecordsOptions = { kms, keyArn: serviceKeyArn, expectedAccountId: '444455556666' }
 * ```
 */
export interface SealedRecordsOptions {
  /** The service's KMS client (its principal needs DescribeKey, GenerateDataKey and Decrypt on the key). */
  readonly kms: KMSClient
  /** The service's own key: a key ARN or alias ARN (an alias is resolved once, by DescribeKey). */
  readonly keyArn: string
  /** Grant tokens sent with every KMS call. */
  readonly grantTokens?: readonly string[]
  /** The account that must own the key; default: the account in `keyArn`. */
  readonly expectedAccountId?: string
}

/**
 * Records sealed under one service-owned KMS key: {@link sealJson} / {@link openSealedJson} through an
 * envelope that generates data keys under exactly that key and decrypts under it only (strict keyring, no
 * data-key cache: one GenerateDataKey per seal, one Decrypt per open). The key is validated (DescribeKey:
 * enabled, symmetric, owned by `expectedAccountId`) once, on first use; a failed validation is retried on the
 * next use. Errors: {@link SealedRecordError} when bytes are not an authentic record for the context; core's
 * KMS errors (KeyDisabledError, KeyAccessDeniedError, …) as they are; ConfigurationError from the
 * constructor when `keyArn` is not a KMS key or alias ARN.
 *
 * @example
 * ```ts
 * import { SealedRecords } from '@kms-envelope/core'
 * const records = new SealedRecords({ kms, keyArn: serviceKeyArn })
 * const context = { project: 'p1', object: 'project-record' }
 * const bytes = await records.seal({ keyArn: customerKeyArn }, context)
 * const record = await records.open<{ keyArn: string }>(bytes, context)
 * ```
 */
export class SealedRecords {
  readonly #kms: KMSClient
  readonly #key: KeyRef
  readonly #grantTokens: readonly string[] | undefined
  readonly #expectedAccountId: string | undefined
  #ready: Promise<{ summary: KeySummary; envelope: Envelope }> | undefined

  constructor(options: SealedRecordsOptions) {
    this.#kms = options.kms
    // Precondition: a KMS key or alias ARN (ConfigurationError otherwise).
    this.#key = serviceOwnedKey(options.keyArn)
    this.#grantTokens = options.grantTokens?.length ? [...options.grantTokens] : undefined
    this.#expectedAccountId = options.expectedAccountId
  }

  /**
   * The validated key (its ARN, an alias resolved): DescribeKey on the first call only.
   *
   * @example
   * ```ts
   * const { arn } = await records.key() // e.g. to check that a record names the key that sealed it
   * ```
   */
  async key(): Promise<KeySummary> {
    return (await this.#validated()).summary
  }

  /**
   * Seal `value` (JSON) with exactly `context` naming what it describes (one GenerateDataKey).
   *
   * @example
   * ```ts
   * const bytes = await records.seal({ keyArn }, { project: 'p1', object: 'project-record' })
   * ```
   */
  async seal(value: unknown, context: EncryptionContext): Promise<Uint8Array> {
    return sealJson((await this.#validated()).envelope, value, context)
  }

  /**
   * Open a record sealed by {@link SealedRecords.seal} with the same context: see {@link openSealedJson}
   * (the context is checked before the Decrypt; only this key may have sealed it). The caller still checks
   * the fields.
   *
   * @example
   * ```ts
   * const record = await records.open<{ keyArn: string }>(bytes, { project: 'p1', object: 'project-record' })
   * ```
   */
  async open<T = unknown>(bytes: Uint8Array, context: EncryptionContext): Promise<T> {
    return openSealedJson<T>((await this.#validated()).envelope, bytes, context)
  }

  #validated(): Promise<{ summary: KeySummary; envelope: Envelope }> {
    if (!this.#ready) {
      const grantTokens = this.#grantTokens ? { grantTokens: this.#grantTokens } : {}
      const pending = validateKey(this.#kms, this.#key, {
        ...grantTokens,
        ...(this.#expectedAccountId === undefined ? {} : { expectedAccountId: this.#expectedAccountId }),
      }).then((summary) => {
        // Postcondition: data keys come from, and are accepted from, exactly the validated key.
        const keyring = new KmsKeyring({
          client: this.#kms,
          generatorKeyId: summary.arn,
          decrypt: { mode: 'strict', keyIds: [summary.arn] },
          ...grantTokens,
        })
        return { summary, envelope: new Envelope({ keyring, cache: false }) }
      })
      this.#ready = pending
      // A failed validation (throttled, key not yet enabled, …) is not remembered.
      pending.catch(() => {
        if (this.#ready === pending) this.#ready = undefined
      })
    }
    return this.#ready
  }
}
