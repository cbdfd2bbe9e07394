import type { ProfileStore, StoredDomainRecord, StoredObject } from './profile-store.js'

/**
 * A {@link ProfileStore} in memory: for tests, demos and data that lives no longer than the process.
 * Records are copied in and out, so callers cannot change stored state by mutating what they hold.
 *
 * @example
 * ```ts
 * import { MemoryProfileStore } from '@kms-envelope/customer-profiles'
 * const store = new MemoryProfileStore()
 * ```
 */
export class MemoryProfileStore implements ProfileStore {
  readonly #domains = new Map<string, StoredDomainRecord>()
  readonly #objects = new Map<string, Map<string, StoredObject>>()

  async getDomain(domainName: string): Promise<StoredDomainRecord | undefined> {
    const record = this.#domains.get(domainName)
    return record === undefined ? undefined : copy(record)
  }

  async putDomain(record: StoredDomainRecord, expectedRevision: number | undefined): Promise<boolean> {
    const current = this.#domains.get(record.domainName)
    // Precondition: compare-and-set on the revision.
    if (current?.revision !== expectedRevision) return false
    this.#domains.set(record.domainName, copy(record))
    return true
  }

  async deleteDomain(domainName: string): Promise<void> {
    this.#domains.delete(domainName)
    this.#objects.delete(domainName)
  }

  async putObject(domainName: string, object: StoredObject): Promise<void> {
    let objects = this.#objects.get(domainName)
    if (!objects) {
      objects = new Map()
      this.#objects.set(domainName, objects)
    }
    objects.set(key(object.objectType, object.objectId), {
      objectType: object.objectType,
      objectId: object.objectId,
      ciphertext: Uint8Array.from(object.ciphertext),
    })
  }

  async getObject(
    domainName: string,
    objectType: string,
    objectId: string,
  ): Promise<StoredObject | undefined> {
    const object = this.#objects.get(domainName)?.get(key(objectType, objectId))
    return object === undefined ? undefined : { ...object, ciphertext: Uint8Array.from(object.ciphertext) }
  }

  async deleteObject(domainName: string, objectType: string, objectId: string): Promise<boolean> {
    return this.#objects.get(domainName)?.delete(key(objectType, objectId)) ?? false
  }

  async listObjects(
    domainName: string,
    objectType?: string,
  ): Promise<Array<{ objectType: string; objectId: string }>> {
    return [...(this.#objects.get(domainName)?.values() ?? [])]
      .filter((o) => objectType === undefined || o.objectType === objectType)
      .map((o) => ({ objectType: o.objectType, objectId: o.objectId }))
  }
}

function copy(record: StoredDomainRecord): StoredDomainRecord {
  return {
    domainName: record.domainName,
    revision: record.revision,
    sealed: Uint8Array.from(record.sealed),
  }
}

function key(objectType: string, objectId: string): string {
  return `${objectType}\u0000${objectId}`
}
