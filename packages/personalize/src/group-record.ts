/**
 * A dataset group's registry record, sealed by the service: a kms-envelope message under the service-owned
 * key whose encryption context names the group's ARN and the record's purpose (stored, authenticated, and
 * sent to KMS). Only the service can write a record that opens, and a record opens only as the group it was
 * written for, so an edited registry cannot move a group's future imports to another key or role.
 */
import {
  type EncryptionContext,
  type KeyOwnership,
  parseKmsArn,
  SealedRecordError,
  type SealedRecordProblem,
  type SealedRecords,
} from '@kms-envelope/core'
import { DatasetGroupRecordError } from './errors.js'
import { parseRoleArn } from './resource-names.js'

/** @internal What the registry remembers of a dataset group. */
export interface GroupRecord {
  readonly version: 1
  readonly name: string
  readonly datasetGroupArn: string
  /** The key ARN everything in the group is encrypted with (an alias given at creation, resolved). */
  readonly kmsKeyArn: string
  readonly keyOwnership: KeyOwnership
  /** The role the customer managed key is used as (absent for the service-owned key). */
  readonly roleArn?: string
  /** The group's store prefix is `<name>/<incarnation>/`: a group re-created under its name gets a new one. */
  readonly incarnation: string
  /** ISO 8601. */
  readonly creationDateTime: string
}

/** @internal The purpose pair that tells a record from a dataset import (`dataset`) under the same key. */
export const RECORD_PURPOSE = 'dataset-group-record'

/**
 * @internal The exact context of a group's record: the group ARN and the purpose. Imports carry `dataset`
 * instead of `purpose`, and records are opened with this exact context, so neither opens as the other.
 */
export function recordContext(datasetGroupArn: string): EncryptionContext {
  return { datasetGroup: datasetGroupArn, purpose: RECORD_PURPOSE }
}

/** @internal Seal a record (one GenerateDataKey under the service key). */
export function sealRecord(records: SealedRecords, record: GroupRecord): Promise<Uint8Array> {
  return records.seal(record, recordContext(record.datasetGroupArn))
}

/** Where the group lives, to check a record against. */
interface Expected {
  readonly name: string
  readonly datasetGroupArn: string
  readonly region: string
  readonly accountId: string
  /** The service key that sealed (and authenticated) the record. */
  readonly serviceKeyArn: string
}

/** The group's reason for each reason core refuses a sealed record for. */
const REASON: Record<SealedRecordProblem, DatasetGroupRecordError['reason']> = {
  OTHER_CONTEXT: 'OTHER_GROUP',
  TAMPERED: 'TAMPERED',
  NOT_JSON: 'INVALID',
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * @internal Authenticate and check a record (one Decrypt under the service key). Throws
 * DatasetGroupRecordError when the record is not an authentic record of exactly this group; KMS errors
 * (service key disabled, throttled, …) pass through as core errors.
 */
export async function openRecord(
  records: SealedRecords,
  bytes: Uint8Array,
  expected: Expected,
): Promise<GroupRecord> {
  const arn = expected.datasetGroupArn
  let value: unknown
  try {
    // Precondition: the exact context of this group's record (checked before any KMS call), then
    // authentication of the whole message under the service key only (strict keyring).
    value = await records.open(bytes, recordContext(arn))
  } catch (err) {
    // KMS errors (service key disabled, throttled, …) are not about the record: they pass through.
    if (!(err instanceof SealedRecordError)) throw err
    // The cause stays the core error that decided (EncryptionContextMismatchError, TamperedCiphertextError…).
    const detail =
      err.reason === 'NOT_JSON' ? 'its plaintext is not JSON' : String((err.cause as Error).message)
    throw new DatasetGroupRecordError(REASON[err.reason], arn, detail, { cause: err.cause })
  }
  const invalid = (detail: string) => new DatasetGroupRecordError('INVALID', arn, detail)
  const r = value as Partial<Record<keyof GroupRecord, unknown>> | null
  // Postcondition: an authentic record describes exactly the group it was opened as, with usable fields.
  if (typeof r !== 'object' || r === null || r.version !== 1) throw invalid('unknown record version')
  if (r.name !== expected.name || r.datasetGroupArn !== arn)
    throw invalid(`it names ${String(r.datasetGroupArn)}`)
  if (typeof r.incarnation !== 'string' || !UUID.test(r.incarnation)) throw invalid('no incarnation id')
  if (typeof r.creationDateTime !== 'string' || Number.isNaN(Date.parse(r.creationDateTime))) {
    throw invalid('no creation time')
  }
  if (typeof r.kmsKeyArn !== 'string') throw invalid('no KMS key')
  if (r.keyOwnership === 'service-owned') {
    if (r.roleArn !== undefined) throw invalid('a role with the service-owned key')
    if (r.kmsKeyArn !== expected.serviceKeyArn)
      throw invalid(`service key ${r.kmsKeyArn} is not the one that sealed it`)
  } else if (r.keyOwnership === 'customer-managed') {
    let key: ReturnType<typeof parseKmsArn>
    try {
      key = parseKmsArn(r.kmsKeyArn)
    } catch {
      throw invalid(`"${r.kmsKeyArn}" is not a KMS key ARN`)
    }
    if (key.resourceType !== 'key' || key.region !== expected.region)
      throw invalid(`key ${r.kmsKeyArn} is not a key ARN of ${expected.region}`)
    let role: ReturnType<typeof parseRoleArn>
    try {
      role = parseRoleArn(String(r.roleArn))
    } catch {
      throw invalid('no IAM role')
    }
    if (role.accountId !== expected.accountId)
      throw invalid(`role ${role.arn} is not in account ${expected.accountId}`)
  } else {
    throw invalid('unknown key ownership')
  }
  return r as GroupRecord
}
