import { KeyAccessDeniedError, KeyDisabledError } from '@kms-envelope/core'
import { grantName } from './grants.js'
import type { DomainRecord } from './profile-store.js'

/**
 * Say which domain and which of the service's grants a KMS refusal is about: a KeyAccessDeniedError
 * gains the grant id the service relies on for that key (revoked or retired → data unreadable until the
 * customer creates a new grant, e.g. by switching the domain to a key with a fresh grant); a
 * KeyDisabledError gains the domain. Other errors pass through unchanged. The original is the `cause`.
 *
 * @example
 * ```ts
 * import { explainKeyError } from '@kms-envelope/customer-profiles'
 * try { await domain.getObject('_order', 'o-1') } catch (err) { throw explainKeyError(err, record) }
 * ```
 */
export function explainKeyError(err: unknown, record: DomainRecord): unknown {
  if (err instanceof KeyAccessDeniedError) {
    const keyId = err.keyId
    const grant = keyId === undefined ? undefined : record.grants[keyId]
    const explained = new KeyAccessDeniedError(keyId, err.operation, {
      cause: err,
      principal: err.principal,
    })
    const describe = err.operation === 'DescribeKey'
    const grantId = describe ? grant?.describeGrantId : grant?.grantId
    const name = grantName(record.domainName, describe ? 'describe' : 'crypto')
    explained.message = grant
      ? `Domain "${record.domainName}": KMS denied kms:${err.operation ?? '?'} on customer managed key ${keyId} to the service, which uses it only through grant ${grantId} (name ${name}); that grant was revoked or retired (the domain's data under this key is then unreadable until the customer creates a new grant), or it is not in effect yet (KMS grants are eventually consistent: for a few minutes after CreateGrant only calls carrying its grant token may use it; see grantTokenTtlMs), or the key policy denies the service. ${err.message}`
      : `Domain "${record.domainName}": KMS denied kms:${err.operation ?? '?'} on ${keyId ?? 'the key'}, for which the domain holds no grant. ${err.message}`
    return explained
  }
  if (err instanceof KeyDisabledError) {
    const explained = new KeyDisabledError(err.keyId, err.keyState, { cause: err })
    explained.message = `Domain "${record.domainName}": ${err.message}`
    return explained
  }
  return err
}
