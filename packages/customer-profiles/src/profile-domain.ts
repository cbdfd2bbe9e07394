import { type Envelope, InvalidKeyError, KeyAccessDeniedError, KeyDisabledError } from '@kms-envelope/core'
import { explainKeyError } from './grant-errors.js'
import { assertObjectId, assertObjectType, objectContext } from './names.js'
import type { DomainRecord, ProfileStore } from './profile-store.js'
import { isDomainChanged, keyOfType } from './switch-guard.js'

/** Reloads of the domain record within one operation (each after the record changed). */
const MAX_RELOADS = 3

/** @internal What a {@link ProfileDomain} works with: the domain record it was built from and its envelope. */
export interface DomainRuntime {
  readonly record: DomainRecord
  readonly envelope: Envelope
}

/** @internal How a {@link ProfileDomain} reaches its runtime (cached, or reloaded from the store). */
export interface DomainRuntimeSource {
  readonly store: ProfileStore
  current(): Promise<DomainRuntime>
  reload(): Promise<DomainRuntime>
}

/**
 * One domain's profile objects: JSON values encrypted under the domain's keys (the object type's own key
 * if it has one, else the domain's default key) with the encryption context {domain, object type, object
 * id}. Stored as ciphertext. Get it from {@link ProfileDomains.domain}.
 *
 * @example
 * ```ts
 * const retail = await domains.domain('retail-eu')
 * await retail.putObject('_profile', 'p-1', { firstName: 'Ana', email: 'ana@example.com' })
 * const profile = await retail.getObject<{ firstName: string }>('_profile', 'p-1')
 * ```
 */
export class ProfileDomain {
  readonly domainName: string
  readonly #source: DomainRuntimeSource

  /** @internal Use {@link ProfileDomains.domain}. */
  constructor(domainName: string, source: DomainRuntimeSource) {
    this.domainName = domainName
    this.#source = source
  }

  /**
   * Encrypt `value` (JSON) and store it as (objectType, objectId), replacing any previous value.
   *
   * @example
   * ```ts
   * await retail.putObject('_order', 'o-1001', { total: 42.5, items: 3 })
   * ```
   */
  async putObject(objectType: string, objectId: string, value: unknown): Promise<void> {
    const context = objectContext(this.domainName, objectType, objectId)
    const ciphertext = await this.#run((rt) => rt.envelope.encryptJson(value, { context }))
    await this.#source.store.putObject(this.domainName, { objectType, objectId, ciphertext })
  }

  /**
   * Read and decrypt (objectType, objectId); undefined when there is no such object. A ciphertext that
   * belongs to another domain, type or id (copied to this slot) fails with EncryptionContextMismatchError
   * before any KMS call; a revoked grant with KeyAccessDeniedError naming key and grant; a disabled key
   * with KeyDisabledError.
   *
   * @example
   * ```ts
   * const order = await retail.getObject<{ total: number }>('_order', 'o-1001')
   * ```
   */
  async getObject<T = unknown>(objectType: string, objectId: string): Promise<T | undefined> {
    const expectedContext = objectContext(this.domainName, objectType, objectId)
    const stored = await this.#source.store.getObject(this.domainName, objectType, objectId)
    if (!stored) return undefined
    return this.#run((rt) => rt.envelope.decryptJson<T>(stored.ciphertext, { expectedContext }))
  }

  /**
   * Delete (objectType, objectId). Returns whether it existed.
   *
   * @example
   * ```ts
   * await retail.deleteObject('_order', 'o-1001')
   * ```
   */
  async deleteObject(objectType: string, objectId: string): Promise<boolean> {
    return this.#source.store.deleteObject(
      this.domainName,
      assertObjectType(objectType),
      assertObjectId(objectId),
    )
  }

  /**
   * The (objectType, objectId) pairs stored in this domain, optionally of one object type.
   *
   * @example
   * ```ts
   * const orders = await retail.listObjects('_order')
   * ```
   */
  async listObjects(objectType?: string): Promise<Array<{ objectType: string; objectId: string }>> {
    return this.#source.store.listObjects(
      this.domainName,
      objectType === undefined ? undefined : assertObjectType(objectType),
    )
  }

  /**
   * The key ARN that protects `objectType` now (its own key, or the domain's default key).
   *
   * @example
   * ```ts
   * await retail.keyFor('_order') // 'arn:aws:kms:…:key/…'
   * ```
   */
  async keyFor(objectType: string): Promise<string> {
    const { record } = await this.#source.current()
    return keyOfType(record, assertObjectType(objectType))
  }

  /**
   * Drop this process's cached scope keys now, so the next access asks KMS (and so fails at once if the
   * customer revoked the grant or disabled the key). Without it, that happens when the cache entry expires.
   *
   * @example
   * ```ts
   * await retail.purge()
   * ```
   */
  async purge(): Promise<void> {
    ;(await this.#source.current()).envelope.purge()
  }

  /**
   * Run `op`. A refusal that a newer domain record may explain (a wrapping key this process does not trust
   * yet, or a key or grant it no longer should use: another process switched keys), or the write path
   * finding that the record changed (switch-guard.ts), reloads the domain and, if the record changed,
   * retries (a bounded number of times).
   */
  async #run<R>(op: (rt: DomainRuntime) => Promise<R>): Promise<R> {
    let rt = await this.#source.current()
    try {
      for (let reloads = 0; ; reloads++) {
        try {
          return await op(rt)
        } catch (err) {
          const stale =
            isDomainChanged(err) ||
            (err instanceof InvalidKeyError && err.reason === 'NOT_ALLOWED') ||
            err instanceof KeyAccessDeniedError ||
            err instanceof KeyDisabledError
          if (!stale || reloads === MAX_RELOADS) throw err
          const before = rt.record.revision
          rt = await this.#source.reload()
          if (rt.record.revision === before) throw err
        }
      }
    } catch (err) {
      throw explainKeyError(err, rt.record)
    }
  }
}
