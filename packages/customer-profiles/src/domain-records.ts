/**
 * Domain records sealed by the service (internal). The record decides which customer key protects each
 * object type's new scope-key versions and which grants the service uses, so it is not trusted as stored:
 * it is a kms-envelope message under the service's own KMS key whose encryption context names the domain,
 * the record's purpose and its revision (stored in the header, authenticated, and sent to KMS). Only the
 * service can write a record that opens; a record opens only as the domain and the revision it was sealed
 * for, so write access to the ProfileStore can no longer choose a domain's keys.
 *
 * What write access to the store can still do, and what is detected:
 * - edit, truncate or forge a record (under any other key): TAMPERED, one Decrypt at most;
 * - copy another domain's record over this one: OTHER_DOMAIN, before any KMS call;
 * - put an older record of this domain back under a newer revision number: OTHER_REVISION, before any
 *   KMS call (the revision is in the context);
 * - put an older record back with its own revision number (a rollback): ROLLED_BACK in a process that has
 *   read or written a newer revision of the domain (same incarnation), or a newer generation of the name;
 *   accepted by a process that has not (a restarted process has no memory). Such a record names keys and
 *   grants that the domain used at that revision, by the customer's choice; grants retired since then are
 *   refused by KMS;
 * - delete a record: the domain is gone (as it was before).
 */
import { randomUUID } from 'node:crypto'
import type { KMSClient } from '@aws-sdk/client-kms'
import {
  type EncryptionContext,
  EncryptionContextMismatchError,
  isKmsKeyArn,
  SealedRecordError,
  SealedRecords,
} from '@kms-envelope/core'
import { DomainRecordError } from './domain-record-error.js'
import { assertObjectType, DOMAIN_CONTEXT_KEY, MAX_DOMAIN_GENERATION } from './names.js'
import type { DomainRecord, ProfileStore, StoredDomainRecord } from './profile-store.js'

/** Context key of a sealed record's purpose (its value: {@link RECORD_PURPOSE}). */
export const PURPOSE_CONTEXT_KEY = 'customer-profiles:purpose'
/** Context key of a sealed record's revision (decimal). */
export const REVISION_CONTEXT_KEY = 'customer-profiles:revision'
export const RECORD_PURPOSE = 'domain-record'

/** The exact encryption context of the record of `domainName` at `revision`. */
export function recordContext(domainName: string, revision: number): EncryptionContext {
  return {
    [DOMAIN_CONTEXT_KEY]: domainName,
    [PURPOSE_CONTEXT_KEY]: RECORD_PURPOSE,
    [REVISION_CONTEXT_KEY]: String(revision),
  }
}

/** A new incarnation id (random UUID). */
export function newIncarnation(): string {
  return randomUUID()
}

/** The newest record of a domain this process has read or written. */
interface Seen {
  readonly incarnation: string
  readonly generation: number
  readonly revision: number
}

/** A record older than `seen`: an earlier generation, or an earlier revision of the same incarnation. */
function olderThan(record: DomainRecord, seen: Seen): boolean {
  if (record.generation < seen.generation) return true
  return record.incarnation === seen.incarnation && record.revision < seen.revision
}

/** What {@link DomainRecords} needs. */
export interface DomainRecordsOptions {
  readonly store: ProfileStore
  /** The service's KMS client. */
  readonly kms: KMSClient
  /** The service's own key (key ARN) that seals the records. */
  readonly serviceKeyArn: string
  /** The service principal's account: the service key must belong to it. */
  readonly serviceAccountId: string
}

/**
 * Reads and writes sealed domain records through the ProfileStore. Opening a record costs one KMS Decrypt
 * under the service key, once per distinct stored record: the last record opened (or written) per domain
 * is kept with its exact bytes, and the same bytes are not opened again. Writing costs one GenerateDataKey.
 * The first use also validates the service key (one DescribeKey).
 */
export class DomainRecords {
  readonly store: ProfileStore
  /** Sealed under the service key only (strict), a fresh data key per record; the key validated once. */
  readonly #sealed: SealedRecords
  readonly #opened = new Map<string, { sealed: Buffer; revision: number; record: Promise<DomainRecord> }>()
  readonly #newest = new Map<string, Seen>()

  constructor(options: DomainRecordsOptions) {
    this.store = options.store
    this.#sealed = new SealedRecords({
      kms: options.kms,
      keyArn: options.serviceKeyArn,
      expectedAccountId: options.serviceAccountId,
    })
  }

  /**
   * The authenticated record of `domainName`, or undefined if the store has none. DomainRecordError when
   * the stored record is not an authentic, current record of exactly this domain (see the file comment).
   */
  async get(domainName: string): Promise<DomainRecord | undefined> {
    // The newest record seen before this read began: the read must not return an older one. (A read that
    // overlaps another may legitimately return the older of two records, so not the newest seen by then.)
    const floor = this.#newest.get(domainName)
    const stored = await this.store.getDomain(domainName)
    if (stored === undefined) return undefined
    const record = await this.#open(domainName, stored)
    // Postcondition: no rollback behind what this process already knew.
    if (floor && olderThan(record, floor)) {
      throw new DomainRecordError(
        'ROLLED_BACK',
        domainName,
        `it is revision ${record.revision} (generation ${record.generation}), and this process has seen revision ${floor.revision} (generation ${floor.generation})`,
      )
    }
    this.#saw(record)
    return record
  }

  /**
   * Seal `record` and write it if the stored revision is `expectedRevision` (see ProfileStore.putDomain).
   * True if written.
   */
  async put(record: DomainRecord, expectedRevision: number | undefined): Promise<boolean> {
    const sealed = Buffer.from(
      await this.#sealed.seal(record, recordContext(record.domainName, record.revision)),
    )
    const written = await this.store.putDomain(
      { domainName: record.domainName, revision: record.revision, sealed },
      expectedRevision,
    )
    if (written) {
      this.#opened.set(record.domainName, {
        sealed,
        revision: record.revision,
        record: Promise.resolve(record),
      })
      this.#saw(record)
    }
    return written
  }

  /** Validate the service key now (DescribeKey, once): KMS errors about it surface before anything is done. */
  async ready(): Promise<void> {
    await this.#sealed.key()
  }

  /** Delete the domain's record (and its objects: ProfileStore.deleteDomain). */
  async delete(domainName: string): Promise<void> {
    this.#opened.delete(domainName)
    await this.store.deleteDomain(domainName)
  }

  #saw(record: DomainRecord): void {
    const seen = this.#newest.get(record.domainName)
    // Keep the newest (a read that overlapped a newer one may finish after it).
    if (
      seen &&
      (olderThan(record, seen) ||
        (record.incarnation === seen.incarnation && record.revision <= seen.revision))
    )
      return
    this.#newest.set(record.domainName, {
      incarnation: record.incarnation,
      generation: record.generation,
      revision: record.revision,
    })
  }

  /** The opened record of these exact bytes: the one already opened, else opened now. */
  #open(domainName: string, stored: StoredDomainRecord): Promise<DomainRecord> {
    const sealed = Buffer.from(stored.sealed)
    const known = this.#opened.get(domainName)
    if (known && known.revision === stored.revision && known.sealed.equals(sealed)) return known.record
    const entry = { sealed, revision: stored.revision, record: this.#authenticate(domainName, stored) }
    this.#opened.set(domainName, entry)
    entry.record.catch(() => {
      if (this.#opened.get(domainName) === entry) this.#opened.delete(domainName)
    })
    return entry.record
  }

  async #authenticate(domainName: string, stored: StoredDomainRecord): Promise<DomainRecord> {
    // The service key is validated (once) before the record is looked at: KMS errors about it come first.
    await this.#sealed.key()
    const fail = (reason: DomainRecordError['reason'], detail: string, cause?: unknown) =>
      new DomainRecordError(reason, domainName, detail, cause === undefined ? undefined : { cause })
    // Precondition: the store's fields are what the service asked for.
    if (stored.domainName !== domainName)
      throw fail('OTHER_DOMAIN', `the store returned it for "${String(stored.domainName)}"`)
    if (!Number.isSafeInteger(stored.revision) || stored.revision < 1)
      throw fail('INVALID', `revision ${String(stored.revision)} is not a positive integer`)
    if (!(stored.sealed instanceof Uint8Array)) throw fail('TAMPERED', 'it is not sealed bytes')
    let value: unknown
    try {
      // Precondition: the exact context of this domain's record at this revision (checked before any KMS
      // call), then authentication of the whole message under the service key only (strict keyring).
      value = await this.#sealed.open(stored.sealed, recordContext(domainName, stored.revision))
    } catch (err) {
      // KMS errors about the service key (disabled, access denied, …) are not about the record: they pass through.
      if (!(err instanceof SealedRecordError)) throw err
      // The cause stays the core error that decided (EncryptionContextMismatchError, TamperedCiphertextError…).
      if (err.reason === 'OTHER_CONTEXT') throw misplaced(domainName, stored.revision, err)
      if (err.reason === 'TAMPERED') throw fail('TAMPERED', sealedUnder(err), err.cause)
      throw fail('INVALID', 'its plaintext is not JSON', err.cause)
    }
    // Postcondition: an authentic record describes exactly this domain at this revision.
    const problem = invalidity(value, domainName, stored.revision)
    if (problem !== undefined) throw fail('INVALID', problem)
    return value as DomainRecord
  }
}

/** Which record a message sealed for another context is (from its unauthenticated header): another revision's or another domain's. */
function misplaced(domainName: string, revision: number, err: SealedRecordError): DomainRecordError {
  const context = err.sealedFor ?? {}
  const sameRecordKind =
    context[DOMAIN_CONTEXT_KEY] === domainName &&
    context[PURPOSE_CONTEXT_KEY] === RECORD_PURPOSE &&
    Object.keys(context).length === 3
  if (sameRecordKind && context[REVISION_CONTEXT_KEY] !== String(revision)) {
    return new DomainRecordError(
      'OTHER_REVISION',
      domainName,
      `it is sealed as revision ${context[REVISION_CONTEXT_KEY]}, stored as revision ${revision}`,
      { cause: err.cause },
    )
  }
  const other = context[DOMAIN_CONTEXT_KEY]
  const key = err.cause instanceof EncryptionContextMismatchError ? err.cause.key : '?'
  return new DomainRecordError(
    'OTHER_DOMAIN',
    domainName,
    other !== undefined && other !== domainName
      ? `it is sealed for domain "${other}"`
      : `its context differs on "${key}"`,
    { cause: err.cause },
  )
}

/** "its data key is wrapped under K" (the keys its header names), for a record that did not authenticate. */
function sealedUnder(err: SealedRecordError): string {
  if (err.sealedFor === undefined) return 'it is not a kms-envelope message'
  return err.sealedUnder.length
    ? `its data key is wrapped under ${err.sealedUnder.join(', ')}`
    : 'it names no KMS key'
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function isObjectType(value: unknown): boolean {
  try {
    assertObjectType(value as string)
    return true
  } catch {
    return false
  }
}

const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
const isText = (v: unknown) => typeof v === 'string' && v !== ''
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Why `value` is not a usable record of `domainName` at `revision`, or undefined if it is. */
function invalidity(value: unknown, domainName: string, revision: number): string | undefined {
  if (!isMap(value)) return 'it is not an object'
  const r = value as Partial<Record<keyof DomainRecord, unknown>>
  if (r.domainName !== domainName) return `it names domain "${String(r.domainName)}"`
  if (r.revision !== revision) return `it holds revision ${String(r.revision)}`
  if (typeof r.incarnation !== 'string' || !UUID.test(r.incarnation)) return 'no incarnation id'
  if (
    !Number.isSafeInteger(r.generation) ||
    (r.generation as number) < 1 ||
    (r.generation as number) > MAX_DOMAIN_GENERATION
  ) {
    return `generation ${String(r.generation)} is out of range`
  }
  if (!isTime(r.createdAt)) return 'no creation time'
  if (!isKmsKeyArn(r.defaultKeyArn)) return 'no default key ARN'
  if (!isMap(r.objectTypeKeys)) return 'no object type keys'
  for (const [type, arn] of Object.entries(r.objectTypeKeys)) {
    if (!isObjectType(type) || !isKmsKeyArn(arn)) return `object type key ${type} is not a key ARN`
  }
  if (!isMap(r.grants)) return 'no grants'
  for (const [arn, g] of Object.entries(r.grants)) {
    if (
      !isMap(g) ||
      g.keyArn !== arn ||
      !isText(g.grantId) ||
      !isText(g.grantToken) ||
      !isText(g.describeGrantId) ||
      !isText(g.describeGrantToken) ||
      !isTime(g.createdAt)
    ) {
      return `grant of ${arn} is malformed`
    }
  }
  // Every key the record uses has the service's grant (what createDomain and switchKey maintain).
  for (const arn of [r.defaultKeyArn, ...Object.values(r.objectTypeKeys)] as string[]) {
    if (!Object.hasOwn(r.grants, arn)) return `no grant for key ${arn}`
  }
  if (r.pendingSwitch !== undefined) {
    const p = r.pendingSwitch
    if (
      !isMap(p) ||
      !isKmsKeyArn(p.fromKeyArn) ||
      !isKmsKeyArn(p.toKeyArn) ||
      !isTime(p.startedAt) ||
      (p.objectType !== undefined && !isObjectType(p.objectType))
    ) {
      return 'its pending key switch is malformed'
    }
  }
  return undefined
}
