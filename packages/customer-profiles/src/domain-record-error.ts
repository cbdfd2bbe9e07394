import { KmsEnvelopeError } from '@kms-envelope/core'

/** Why a stored domain record was refused; see {@link DomainRecordError.reason}. */
export type DomainRecordProblem = 'TAMPERED' | 'OTHER_DOMAIN' | 'OTHER_REVISION' | 'ROLLED_BACK' | 'INVALID'

const WHAT: Record<DomainRecordProblem, string> = {
  TAMPERED:
    'does not authenticate under the service key (it was modified, cut, forged, or sealed under another key)',
  OTHER_DOMAIN: 'is the sealed record of another domain (copied or swapped in the store)',
  OTHER_REVISION:
    'is sealed for another revision than the one stored beside it (an older record of the domain put back under a newer revision number)',
  ROLLED_BACK:
    'is an authentic but older record of the domain than one this process has already read or written (the store was rolled back)',
  INVALID: 'authenticates but is not a valid record of this domain',
}

const RESTORE =
  'Restore the newest domain record from a backup of the ProfileStore (only records sealed by this service open), and find out who could write to the store. Do not delete and re-create the domain to get past this: deleteDomain shreds its data.'

/**
 * A domain record read from the {@link ProfileStore} was refused: it was modified, forged, copied from
 * another domain, put back under another revision, rolled back, or does not describe the domain (code
 * `ERR_DOMAIN_RECORD`). The record is not used, so no data key is made or unwrapped with the keys and
 * grants it names. `cause` is the core error (e.g. TamperedCiphertextError, EncryptionContextMismatchError,
 * InvalidKeyError) when there is one. KMS errors about the service key itself (disabled, access denied,
 * unavailable) are not this error: they pass through as core errors.
 *
 * @example
 * ```ts
 * import { DomainRecordError } from '@kms-envelope/customer-profiles'
 * try {
 *   await domains.domain('retail-eu')
 * } catch (err) {
 *   if (err instanceof DomainRecordError) console.error(err.reason, err.domainName, err.remedy)
 *   else throw err
 * }
 * ```
 */
export class DomainRecordError extends KmsEnvelopeError {
  /**
   * `TAMPERED`: the record does not authenticate under the service key (edited, truncated, forged, or
   * sealed under another key); `OTHER_DOMAIN`: a record of another domain (or not a domain record);
   * `OTHER_REVISION`: a record of this domain sealed for another revision than the stored one;
   * `ROLLED_BACK`: an authentic record older than one this process has seen; `INVALID`: authentic but its
   * fields do not describe this domain.
   */
  readonly reason: DomainRecordProblem
  readonly domainName: string

  constructor(
    reason: DomainRecordProblem,
    domainName: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_DOMAIN_RECORD',
      `The stored record of domain "${domainName}" ${WHAT[reason]}: ${detail}. It was not used: no data key was made or unwrapped with the keys or grants it names.`,
      RESTORE,
      options,
    )
    this.reason = reason
    this.domainName = domainName
  }
}
