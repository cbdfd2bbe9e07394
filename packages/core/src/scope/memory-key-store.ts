import type { AuditEvent, CreateResult, KeyStore, ScopeKeyVersion, ScopeRecord } from './key-store.js'

function copyVersion(record: ScopeKeyVersion): ScopeKeyVersion {
  return {
    ...record,
    context: { ...record.context },
    ...(record.wrappedKey ? { wrappedKey: Uint8Array.from(record.wrappedKey) } : {}),
  }
}

/**
 * A key store in memory: for tests and single-process programs whose data lives no longer than the
 * process (everything is lost on exit). Records are copied in and out, so callers cannot alter them.
 *
 * @example
 * ```ts
 * import { KeyHierarchy, MemoryKeyStore } from '@kms-envelope/core'
 * const hierarchy = new KeyHierarchy({ kms, rootKeyId, store: new MemoryKeyStore() })
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  readonly #scopes = new Map<string, ScopeRecord>()
  readonly #versions = new Map<string, Map<number, ScopeKeyVersion>>()
  readonly #audit: AuditEvent[] = []

  async getScope(scopeId: string): Promise<ScopeRecord | undefined> {
    const record = this.#scopes.get(scopeId)
    return record && { ...record }
  }

  async createScope(record: ScopeRecord): Promise<CreateResult<ScopeRecord>> {
    const existing = this.#scopes.get(record.scopeId)
    if (existing) return { created: false, record: { ...existing } }
    this.#scopes.set(record.scopeId, { ...record })
    return { created: true, record: { ...record } }
  }

  async updateScope(record: ScopeRecord, expectedRevision: number): Promise<boolean> {
    // Precondition: the stored revision is the expected one.
    if (this.#scopes.get(record.scopeId)?.revision !== expectedRevision) return false
    this.#scopes.set(record.scopeId, { ...record })
    return true
  }

  async listScopes(): Promise<string[]> {
    return [...this.#scopes.keys()].sort()
  }

  async getVersion(scopeId: string, version: number): Promise<ScopeKeyVersion | undefined> {
    const record = this.#versions.get(scopeId)?.get(version)
    return record && copyVersion(record)
  }

  async latestVersion(scopeId: string): Promise<ScopeKeyVersion | undefined> {
    const versions = this.#versions.get(scopeId)
    if (!versions || versions.size === 0) return undefined
    return copyVersion(versions.get(Math.max(...versions.keys()))!)
  }

  async listVersions(scopeId: string): Promise<ScopeKeyVersion[]> {
    const versions = [...(this.#versions.get(scopeId)?.values() ?? [])]
    return versions.sort((a, b) => a.version - b.version).map(copyVersion)
  }

  async createVersion(record: ScopeKeyVersion): Promise<CreateResult<ScopeKeyVersion>> {
    let versions = this.#versions.get(record.scopeId)
    if (!versions) {
      versions = new Map()
      this.#versions.set(record.scopeId, versions)
    }
    const existing = versions.get(record.version)
    if (existing) return { created: false, record: copyVersion(existing) }
    versions.set(record.version, copyVersion(record))
    return { created: true, record: copyVersion(record) }
  }

  async updateVersion(record: ScopeKeyVersion, expectedRevision: number): Promise<boolean> {
    const versions = this.#versions.get(record.scopeId)
    // Precondition: the stored revision is the expected one.
    if (versions?.get(record.version)?.revision !== expectedRevision) return false
    versions.set(record.version, copyVersion(record))
    return true
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    this.#audit.push({ ...event })
  }

  async listAudit(scopeId?: string): Promise<AuditEvent[]> {
    return this.#audit.filter((e) => scopeId === undefined || e.scopeId === scopeId).map((e) => ({ ...e }))
  }
}
