import {
  ConfigurationError,
  type DecryptedDataKey,
  type EncryptedDataKey,
  type EncryptionContext,
  type GeneratedDataKey,
  type KeyHierarchy,
  type Keyring,
  type ScopeKeyring,
} from '@kms-envelope/core'
import { DOMAIN_CONTEXT_KEY, OBJECT_TYPE_CONTEXT_KEY, scopeIdOf } from './names.js'

/**
 * A keyring for one domain: routes each message to the scope key of its (domain, object type) in core's
 * key hierarchy, read from the message's encryption context. No crypto here: the hierarchy's scope
 * keyrings do the work. Its data keys depend on the scope alone ({@link ProfileKeyring.dataKeyScope}), so
 * per-object context pairs (the object id) share one cached key per (domain, object type).
 *
 * @example
 * ```ts
 * import { Envelope } from '@kms-envelope/core'
 * import { ProfileKeyring } from '@kms-envelope/customer-profiles'
 * const envelope = new Envelope({ keyring: new ProfileKeyring(hierarchy, 'retail-eu') })
 * ```
 */
export class ProfileKeyring implements Keyring {
  readonly partition: string
  readonly #hierarchy: KeyHierarchy
  readonly #domainName: string
  readonly #generation: number
  /** Scope keyring per object type (the domain and generation are fixed). */
  readonly #byType = new Map<string, ScopeKeyring>()

  constructor(hierarchy: KeyHierarchy, domainName: string, generation = 1, partition = domainName) {
    this.#hierarchy = hierarchy
    this.#domainName = domainName
    this.#generation = generation
    this.partition = `customer-profiles\u0000${partition}`
  }

  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    return this.#keyring(context).generateDataKey(context)
  }

  decryptDataKey(
    encryptedDataKeys: readonly EncryptedDataKey[],
    context: EncryptionContext,
  ): Promise<DecryptedDataKey> {
    return this.#keyring(context).decryptDataKey(encryptedDataKeys, context)
  }

  /**
   * The scope id of the context's (domain, object type): the envelope caches one data key per scope
   * instead of one per context (per object id).
   *
   * @example
   * ```ts
   * new ProfileKeyring(hierarchy, 'retail-eu').dataKeyScope(objectContext('retail-eu', '_order', 'o-1')) // 'retail-eu/_order'
   * ```
   */
  dataKeyScope(context: EncryptionContext): string {
    return this.#keyring(context).dataKeyScope(context)
  }

  #keyring(context: EncryptionContext): ScopeKeyring {
    const domain = context[DOMAIN_CONTEXT_KEY]
    const objectType = context[OBJECT_TYPE_CONTEXT_KEY]
    // Precondition: the context names this domain and an object type.
    if (domain !== this.#domainName || objectType === undefined) {
      throw new ConfigurationError(
        `The encryption context does not name domain "${this.#domainName}" and an object type.`,
        `Pass { '${DOMAIN_CONTEXT_KEY}': '${this.#domainName}', '${OBJECT_TYPE_CONTEXT_KEY}': <type> }.`,
      )
    }
    // Called per message (dataKeyScope is the cache key): the scope id is built and checked once per type.
    let keyring = this.#byType.get(objectType)
    if (!keyring) {
      keyring = this.#hierarchy.keyring(scopeIdOf(domain, objectType, this.#generation))
      this.#byType.set(objectType, keyring)
    }
    return keyring
  }
}
