/**
 * Names and encryption-context keys of the Customer Profiles pattern: domain names, object type names,
 * object ids, the scope id of a (domain, object type) pair, and the context pairs bound to every object
 * and KMS call.
 */
import { ConfigurationError } from '@kms-envelope/core'

/** KMS and message encryption-context key naming the domain; the service's grants are constrained on it. */
export const DOMAIN_CONTEXT_KEY = 'customer-profiles:domain'
/** Message encryption-context key naming the object type. */
export const OBJECT_TYPE_CONTEXT_KEY = 'customer-profiles:object-type'
/**
 * Message encryption-context key naming the object id: it binds a ciphertext to its slot in the store. A
 * per-object pair that does not split the cache: the data key depends only on the (domain, object type)
 * scope (`ProfileKeyring.dataKeyScope`).
 */
export const OBJECT_ID_CONTEXT_KEY = 'customer-profiles:object-id'

const DOMAIN_NAME = /^[a-zA-Z0-9_-]{1,64}$/
const OBJECT_TYPE = /^[a-zA-Z_][a-zA-Z0-9_-]{0,55}$/
/** Highest domain generation (a domain name re-created after deletion gets the next one). */
export const MAX_DOMAIN_GENERATION = 9999
const OBJECT_ID = /^[\x21-\x7e]{1,256}$/

/**
 * Throws ConfigurationError unless `name` is a domain name (1–64 of `[a-zA-Z0-9_-]`, as Customer Profiles).
 *
 * @example
 * ```ts
 * import { assertDomainName } from '@kms-envelope/customer-profiles'
 * assertDomainName('retail-eu') // ok
 * ```
 */
export function assertDomainName(name: string): string {
  // Precondition: a Customer Profiles domain name.
  if (typeof name !== 'string' || !DOMAIN_NAME.test(name)) {
    throw new ConfigurationError(
      `"${String(name)}" is not a domain name.`,
      'Use 1 to 64 letters, digits, "_" or "-".',
    )
  }
  return name
}

/**
 * Throws ConfigurationError unless `name` is an object type name (a letter or `_` first, then up to 55 of
 * `[a-zA-Z0-9_-]`; Customer Profiles allows 255, this package 56 so that the scope id fits 128 bytes).
 *
 * @example
 * ```ts
 * import { assertObjectType } from '@kms-envelope/customer-profiles'
 * assertObjectType('_profile') // ok
 * ```
 */
export function assertObjectType(name: string): string {
  // Precondition: an object type name that fits in a scope id.
  if (typeof name !== 'string' || !OBJECT_TYPE.test(name)) {
    throw new ConfigurationError(
      `"${String(name)}" is not an object type name.`,
      'Start with a letter or "_", then up to 55 letters, digits, "_" or "-".',
    )
  }
  return name
}

/**
 * Throws ConfigurationError unless `id` is an object id (1–256 printable ASCII characters, no spaces).
 *
 * @example
 * ```ts
 * import { assertObjectId } from '@kms-envelope/customer-profiles'
 * assertObjectId('order-1001') // ok
 * ```
 */
export function assertObjectId(id: string): string {
  // Precondition: a printable object id.
  if (typeof id !== 'string' || !OBJECT_ID.test(id)) {
    throw new ConfigurationError(
      `"${String(id)}" is not an object id.`,
      'Use 1 to 256 printable ASCII characters without spaces.',
    )
  }
  return id
}

/**
 * The scope (in core's key hierarchy) that holds the keys of one object type of one domain. A domain name
 * re-created after deletion gets a new generation (`name~2`, …), so its scopes are new: the deleted
 * domain's scopes stay crypto-shredded.
 *
 * @example
 * ```ts
 * import { scopeIdOf } from '@kms-envelope/customer-profiles'
 * scopeIdOf('retail-eu', '_order') // 'retail-eu/_order'
 * scopeIdOf('retail-eu', '_order', 2) // 'retail-eu~2/_order'
 * ```
 */
export function scopeIdOf(domainName: string, objectType: string, generation = 1): string {
  // Precondition: a generation in 1..MAX_DOMAIN_GENERATION.
  if (!Number.isInteger(generation) || generation < 1 || generation > MAX_DOMAIN_GENERATION) {
    throw new ConfigurationError(
      `Domain generation ${generation} is out of range.`,
      `Use 1..${MAX_DOMAIN_GENERATION}.`,
    )
  }
  const prefix =
    generation === 1 ? assertDomainName(domainName) : `${assertDomainName(domainName)}~${generation}`
  return `${prefix}/${assertObjectType(objectType)}`
}

/**
 * The generation and object type of a scope id of `domainName` (any generation), or undefined when the
 * scope belongs to another domain.
 *
 * @example
 * ```ts
 * import { parseScopeId } from '@kms-envelope/customer-profiles'
 * parseScopeId('retail-eu', 'retail-eu~2/_order') // { generation: 2, objectType: '_order' }
 * ```
 */
export function parseScopeId(
  domainName: string,
  scopeId: string,
): { generation: number; objectType: string } | undefined {
  if (!scopeId.startsWith(domainName)) return undefined
  const m = /^(?:~([1-9]\d{0,3}))?\/(.+)$/.exec(scopeId.slice(domainName.length))
  if (!m || !OBJECT_TYPE.test(m[2]!)) return undefined
  const generation = m[1] === undefined ? 1 : Number(m[1])
  return generation === 1 && m[1] !== undefined ? undefined : { generation, objectType: m[2]! }
}

/**
 * The object type of a scope id of (`domainName`, `generation`), or undefined when the scope belongs to
 * another domain or generation.
 *
 * @example
 * ```ts
 * import { objectTypeOfScope } from '@kms-envelope/customer-profiles'
 * objectTypeOfScope('retail-eu', 'retail-eu/_order') // '_order'
 * ```
 */
export function objectTypeOfScope(domainName: string, scopeId: string, generation = 1): string | undefined {
  const parsed = parseScopeId(domainName, scopeId)
  return parsed?.generation === generation ? parsed.objectType : undefined
}

/**
 * The encryption context of one object: its domain, object type and id (authenticated with its
 * ciphertext, checked before any KMS call on reading). The objects of one (domain, object type) share one
 * cached data key whatever their ids.
 *
 * @example
 * ```ts
 * import { objectContext } from '@kms-envelope/customer-profiles'
 * objectContext('retail-eu', '_order', 'o-1001')
 * // { 'customer-profiles:domain': 'retail-eu', 'customer-profiles:object-type': '_order', 'customer-profiles:object-id': 'o-1001' }
 * ```
 */
export function objectContext(
  domainName: string,
  objectType: string,
  objectId: string,
): Record<string, string> {
  return {
    [DOMAIN_CONTEXT_KEY]: assertDomainName(domainName),
    [OBJECT_TYPE_CONTEXT_KEY]: assertObjectType(objectType),
    [OBJECT_ID_CONTEXT_KEY]: assertObjectId(objectId),
  }
}

/**
 * @internal The key a record names for `objectType` itself (not the default), or undefined. An own-property
 * lookup: object type names such as `constructor` or `__proto__` are valid and must not reach
 * `Object.prototype`.
 */
export function ownObjectTypeKey(
  objectTypeKeys: Readonly<Record<string, string>>,
  objectType: string,
): string | undefined {
  return Object.hasOwn(objectTypeKeys, objectType) ? objectTypeKeys[objectType] : undefined
}
