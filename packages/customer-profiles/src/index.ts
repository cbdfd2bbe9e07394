/**
 * @kms-envelope/customer-profiles — the key model of Amazon Connect Customer Profiles on kms-envelope:
 * a customer managed KMS key per domain (or per object type), used by the service only through a KMS grant
 * this library creates; switching keys on existing data; a revoked grant or a disabled key leaves the data
 * unreadable with a typed error; domain records sealed under the service's own key.
 *
 * @packageDocumentation
 */
export { validateCustomerKey } from './customer-key.js'
export { DomainRecordError, type DomainRecordProblem } from './domain-record-error.js'
export { explainKeyError } from './grant-errors.js'
export {
  createDomainGrants,
  DOMAIN_GRANT_OPERATIONS,
  describeGrantRequest,
  domainGrantRequest,
  grantName,
  retireDomainGrants,
} from './grants.js'
export { MemoryProfileStore } from './memory-profile-store.js'
export {
  assertDomainName,
  assertObjectId,
  assertObjectType,
  DOMAIN_CONTEXT_KEY,
  MAX_DOMAIN_GENERATION,
  OBJECT_ID_CONTEXT_KEY,
  OBJECT_TYPE_CONTEXT_KEY,
  objectContext,
  objectTypeOfScope,
  parseScopeId,
  scopeIdOf,
} from './names.js'
export { ProfileDomain } from './profile-domain.js'
export {
  type CreateDomainOptions,
  type DeleteDomainResult,
  type DomainInfo,
  ProfileDomains,
  type ProfileDomainsOptions,
  type SwitchKeyOptions,
  type SwitchKeyResult,
} from './profile-domains.js'
export { ProfileKeyring } from './profile-keyring.js'
export type {
  DomainGrant,
  DomainRecord,
  PendingKeySwitch,
  ProfileStore,
  StoredDomainRecord,
  StoredObject,
} from './profile-store.js'
