import { mkdirSync } from 'node:fs'
import { mkdir, open, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigurationError, KeyStoreError } from '../errors/errors.js'
import { createFileExclusive, writeFileAtomic } from './atomic-file.js'
import { type FileLockOptions, withFileLock } from './file-lock.js'
import type { AuditEvent, CreateResult, KeyStore, ScopeKeyVersion, ScopeRecord } from './key-store.js'
import { auditFromJson, scopeFromJson, scopeToJson, versionFromJson, versionToJson } from './record-json.js'

/** Options of {@link FileKeyStore}. */
export interface FileKeyStoreOptions {
  /** The store's directory (created with mode 0700 if missing). */
  readonly directory: string
  /** Lock timing for updates (destroy, key switch). */
  readonly lock?: FileLockOptions
}

const VERSION_FILE = /^(\d{10})\.json$/

function scopeDirName(scopeId: string): string {
  return Buffer.from(scopeId, 'utf8').toString('base64url')
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function listOptional(path: string): Promise<string[]> {
  try {
    return await readdir(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * The embedded default key store: one directory on local disk, safe for several processes on one machine.
 *
 * - Layout: `scopes/<base64url(scopeId)>/scope.json`, `…/versions/<0000000001>.json`, `audit.jsonl`.
 *   Files hold only KMS-wrapped keys and metadata, mode 0600.
 * - Crash-safe: every record is written to a temp file, fsynced, then linked (create) or renamed (update)
 *   into place, and the directory fsynced; a crash leaves the old record or the new one.
 * - Concurrency: creating a record uses a hard link, which fails if the name exists, so two processes
 *   creating the same window's version agree on the first one; updates take a per-scope lock file and
 *   check the record's revision. Audit lines are appended with O_APPEND and fsynced.
 * - Not for network file systems (NFS, SMB): their locking and rename semantics vary. For a fleet use
 *   `DynamoDbKeyStore` from `@kms-envelope/keystore-dynamodb`.
 *
 * @example
 * ```ts
 * import { FileKeyStore, KeyHierarchy } from '@kms-envelope/core'
 * const store = new FileKeyStore({ directory: '/var/lib/myapp/scope-keys' })
 * const hierarchy = new KeyHierarchy({ kms, rootKeyId, store, keyWindowMs: 3_600_000 })
 * ```
 */
export class FileKeyStore implements KeyStore {
  readonly directory: string
  readonly #tmp: string
  readonly #scopes: string
  readonly #audit: string
  readonly #lock: FileLockOptions

  constructor(options: FileKeyStoreOptions) {
    // Precondition: a directory.
    if (typeof options?.directory !== 'string' || options.directory.length === 0) {
      throw new ConfigurationError('FileKeyStore needs a directory.', "Pass { directory: './scope-keys' }.")
    }
    this.directory = options.directory
    this.#tmp = join(this.directory, 'tmp')
    this.#scopes = join(this.directory, 'scopes')
    this.#audit = join(this.directory, 'audit.jsonl')
    this.#lock = options.lock ?? {}
    mkdirSync(this.#tmp, { recursive: true, mode: 0o700 })
    mkdirSync(this.#scopes, { recursive: true, mode: 0o700 })
  }

  async getScope(scopeId: string): Promise<ScopeRecord | undefined> {
    return this.#io(async () => {
      const path = this.#scopeFile(scopeId)
      const text = await readOptional(path)
      return text === undefined ? undefined : scopeFromJson(text, path)
    })
  }

  async createScope(record: ScopeRecord): Promise<CreateResult<ScopeRecord>> {
    return this.#io(async () => {
      await this.#ensureDir(join(this.#scopes, scopeDirName(record.scopeId)))
      if (await createFileExclusive(this.#scopeFile(record.scopeId), scopeToJson(record), this.#tmp)) {
        return { created: true, record }
      }
      const existing = await this.getScope(record.scopeId)
      if (!existing) throw new Error('scope record vanished after EEXIST')
      return { created: false, record: existing }
    })
  }

  async updateScope(record: ScopeRecord, expectedRevision: number): Promise<boolean> {
    return this.#locked(record.scopeId, async () => {
      const current = await this.getScope(record.scopeId)
      // Precondition: the stored revision is the expected one.
      if (current?.revision !== expectedRevision) return false
      await writeFileAtomic(this.#scopeFile(record.scopeId), scopeToJson(record), this.#tmp)
      return true
    })
  }

  async listScopes(): Promise<string[]> {
    return this.#io(async () => {
      const ids: string[] = []
      for (const name of await listOptional(this.#scopes)) {
        const text = await readOptional(join(this.#scopes, name, 'scope.json'))
        if (text !== undefined) ids.push(Buffer.from(name, 'base64url').toString('utf8'))
      }
      return ids.sort()
    })
  }

  async getVersion(scopeId: string, version: number): Promise<ScopeKeyVersion | undefined> {
    return this.#io(async () => {
      const path = this.#versionFile(scopeId, version)
      const text = await readOptional(path)
      return text === undefined ? undefined : versionFromJson(text, path)
    })
  }

  async latestVersion(scopeId: string): Promise<ScopeKeyVersion | undefined> {
    const numbers = await this.#versionNumbers(scopeId)
    const last = numbers[numbers.length - 1]
    return last === undefined ? undefined : this.getVersion(scopeId, last)
  }

  async listVersions(scopeId: string): Promise<ScopeKeyVersion[]> {
    const out: ScopeKeyVersion[] = []
    for (const n of await this.#versionNumbers(scopeId)) {
      const record = await this.getVersion(scopeId, n)
      if (record) out.push(record)
    }
    return out
  }

  async createVersion(record: ScopeKeyVersion): Promise<CreateResult<ScopeKeyVersion>> {
    return this.#io(async () => {
      await this.#ensureDir(join(this.#scopes, scopeDirName(record.scopeId), 'versions'))
      const path = this.#versionFile(record.scopeId, record.version)
      if (await createFileExclusive(path, versionToJson(record), this.#tmp)) return { created: true, record }
      const existing = await this.getVersion(record.scopeId, record.version)
      if (!existing) throw new Error('version record vanished after EEXIST')
      return { created: false, record: existing }
    })
  }

  async updateVersion(record: ScopeKeyVersion, expectedRevision: number): Promise<boolean> {
    return this.#locked(record.scopeId, async () => {
      const current = await this.getVersion(record.scopeId, record.version)
      // Precondition: the stored revision is the expected one.
      if (current?.revision !== expectedRevision) return false
      await writeFileAtomic(
        this.#versionFile(record.scopeId, record.version),
        versionToJson(record),
        this.#tmp,
      )
      return true
    })
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    await this.#io(async () => {
      const handle = await open(this.#audit, 'a', 0o600)
      try {
        // One write() of one line with O_APPEND: lines of concurrent writers do not interleave.
        await handle.write(`${JSON.stringify(event)}\n`)
        await handle.sync()
      } finally {
        await handle.close()
      }
    })
  }

  async listAudit(scopeId?: string): Promise<AuditEvent[]> {
    return this.#io(async () => {
      const text = (await readOptional(this.#audit)) ?? ''
      const lines = text.split('\n')
      // A crash during an append can leave a partial last line: ignore it (it has no newline yet).
      lines.pop()
      return lines
        .filter((line) => line.length > 0)
        .map((line, i) => auditFromJson(line, `${this.#audit}:${i + 1}`))
        .filter((e) => scopeId === undefined || e.scopeId === scopeId)
    })
  }

  #scopeFile(scopeId: string): string {
    return join(this.#scopes, scopeDirName(scopeId), 'scope.json')
  }

  #versionFile(scopeId: string, version: number): string {
    return join(this.#scopes, scopeDirName(scopeId), 'versions', `${String(version).padStart(10, '0')}.json`)
  }

  async #versionNumbers(scopeId: string): Promise<number[]> {
    const names = await this.#io(() => listOptional(join(this.#scopes, scopeDirName(scopeId), 'versions')))
    return names
      .map((name) => VERSION_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }

  async #ensureDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o700 })
  }

  async #locked<T>(scopeId: string, fn: () => Promise<T>): Promise<T> {
    return this.#io(async () => {
      const dir = join(this.#scopes, scopeDirName(scopeId))
      await this.#ensureDir(dir)
      return withFileLock(join(dir, '.lock'), fn, this.#lock)
    })
  }

  async #io<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof KeyStoreError) throw err
      throw new KeyStoreError(
        'UNAVAILABLE',
        `The file key store at ${this.directory} failed: ${(err as Error).message}.`,
        'Check that the directory exists, is writable by this user and the disk is not full.',
        { cause: err },
      )
    }
  }
}
