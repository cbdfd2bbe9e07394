/**
 * Mapping between key-store records and DynamoDB items (low-level AttributeValues, no marshalling
 * library). One table, key (`pk`, `sk`):
 *
 * | item | pk | sk |
 * | --- | --- | --- |
 * | scope record | `S#<scopeId>` | `#SCOPE` |
 * | key version | `S#<scopeId>` | `V#<version, 10 digits>` |
 * | audit event | `S#<scopeId>` | `A#<epoch ms, 15 digits>#<uuid>` |
 *
 * Everything about a scope is in one partition: a Query reads its versions in order and its audit trail.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import {
  type AuditEvent,
  KeyStoreError,
  type ScopeKeyVersion,
  type ScopeRecord,
  type Tombstone,
} from '@kms-envelope/core'

export type Item = Record<string, AttributeValue>

export const SCOPE_SK = '#SCOPE'
export const VERSION_PREFIX = 'V#'
export const AUDIT_PREFIX = 'A#'

export function pk(scopeId: string): string {
  return `S#${scopeId}`
}

export function versionSk(version: number): string {
  return `${VERSION_PREFIX}${String(version).padStart(10, '0')}`
}

export function auditSk(at: number, id: string): string {
  return `${AUDIT_PREFIX}${String(at).padStart(15, '0')}#${id}`
}

function corrupt(what: string): KeyStoreError {
  return new KeyStoreError(
    'CORRUPT',
    `The DynamoDB key store holds a corrupt item (${what}).`,
    'Restore the item from a backup (point-in-time recovery); do not edit key store items by hand.',
  )
}

const s = (value: string): AttributeValue => ({ S: value })
const n = (value: number): AttributeValue => ({ N: String(value) })

function getS(item: Item, key: string): string {
  const v = item[key]?.S
  if (v === undefined) throw corrupt(key)
  return v
}

function getN(item: Item, key: string): number {
  const v = item[key]?.N
  const num = v === undefined ? Number.NaN : Number(v)
  if (!Number.isSafeInteger(num)) throw corrupt(key)
  return num
}

function optS(item: Item, key: string): string | undefined {
  return item[key] === undefined ? undefined : getS(item, key)
}

function optN(item: Item, key: string): number | undefined {
  return item[key] === undefined ? undefined : getN(item, key)
}

function getState(item: Item): 'active' | 'destroyed' {
  const v = getS(item, 'state')
  if (v !== 'active' && v !== 'destroyed') throw corrupt('state')
  return v
}

function tombstoneAttrs(t: Tombstone | undefined): Item {
  if (!t) return {}
  return {
    destroyedAt: n(t.destroyedAt),
    destroyedBy: s(t.destroyedBy),
    ...(t.reason === undefined ? {} : { destroyReason: s(t.reason) }),
  }
}

function readTombstone(item: Item): Tombstone | undefined {
  if (item.destroyedAt === undefined) return undefined
  const reason = optS(item, 'destroyReason')
  return {
    destroyedAt: getN(item, 'destroyedAt'),
    destroyedBy: getS(item, 'destroyedBy'),
    ...(reason === undefined ? {} : { reason }),
  }
}

export function scopeToItem(r: ScopeRecord): Item {
  return {
    pk: s(pk(r.scopeId)),
    sk: s(SCOPE_SK),
    scopeId: s(r.scopeId),
    state: s(r.state),
    createdAt: n(r.createdAt),
    revision: n(r.revision),
    ...(r.rootKeyId === undefined ? {} : { rootKeyId: s(r.rootKeyId) }),
    ...(r.rewrap === undefined
      ? {}
      : {
          rewrapTarget: s(r.rewrap.targetKeyId),
          rewrapStartedAt: n(r.rewrap.startedAt),
          rewrapStartedBy: s(r.rewrap.startedBy),
        }),
    ...tombstoneAttrs(r.tombstone),
  }
}

export function scopeFromItem(item: Item): ScopeRecord {
  const rootKeyId = optS(item, 'rootKeyId')
  const tombstone = readTombstone(item)
  return {
    scopeId: getS(item, 'scopeId'),
    state: getState(item),
    createdAt: getN(item, 'createdAt'),
    revision: getN(item, 'revision'),
    ...(rootKeyId === undefined ? {} : { rootKeyId }),
    ...(item.rewrapTarget === undefined
      ? {}
      : {
          rewrap: {
            targetKeyId: getS(item, 'rewrapTarget'),
            startedAt: getN(item, 'rewrapStartedAt'),
            startedBy: getS(item, 'rewrapStartedBy'),
          },
        }),
    ...(tombstone === undefined ? {} : { tombstone }),
  }
}

export function versionToItem(r: ScopeKeyVersion): Item {
  // A list of [key, value] pairs, not a map: the AWS SDK rebuilds maps by assignment, which loses a key such as
  // "__proto__" (valid in an encryption context) on the way back.
  const context: AttributeValue = {
    L: Object.entries(r.context).map(([k, v]) => ({ L: [s(k), s(v)] })),
  }
  return {
    pk: s(pk(r.scopeId)),
    sk: s(versionSk(r.version)),
    scopeId: s(r.scopeId),
    version: n(r.version),
    state: s(r.state),
    createdAt: n(r.createdAt),
    createdBy: s(r.createdBy),
    windowStart: n(r.windowStart),
    windowEnd: r.windowEnd === null ? { NULL: true } : n(r.windowEnd),
    wrappingKeyId: s(r.wrappingKeyId),
    context,
    revision: n(r.revision),
    ...(r.wrappedKey ? { wrappedKey: { B: Uint8Array.from(r.wrappedKey) } } : {}),
    ...(r.rewrappedAt === undefined ? {} : { rewrappedAt: n(r.rewrappedAt) }),
    ...tombstoneAttrs(r.tombstone),
  }
}

export function versionFromItem(item: Item): ScopeKeyVersion {
  const pairs = item.context?.L
  if (!pairs) throw corrupt('context')
  const context: Record<string, string> = Object.create(null)
  for (const pair of pairs) {
    const [k, v] = pair.L ?? []
    // Precondition: each entry is exactly [key, value], keys distinct.
    if (pair.L?.length !== 2 || k?.S === undefined || v?.S === undefined || Object.hasOwn(context, k.S)) {
      throw corrupt('context')
    }
    context[k.S] = v.S
  }
  const wrapped = item.wrappedKey?.B
  const rewrappedAt = optN(item, 'rewrappedAt')
  const tombstone = readTombstone(item)
  return {
    scopeId: getS(item, 'scopeId'),
    version: getN(item, 'version'),
    state: getState(item),
    createdAt: getN(item, 'createdAt'),
    createdBy: getS(item, 'createdBy'),
    windowStart: getN(item, 'windowStart'),
    windowEnd: item.windowEnd?.NULL ? null : getN(item, 'windowEnd'),
    wrappingKeyId: getS(item, 'wrappingKeyId'),
    context,
    revision: getN(item, 'revision'),
    ...(wrapped ? { wrappedKey: Uint8Array.from(wrapped) } : {}),
    ...(rewrappedAt === undefined ? {} : { rewrappedAt }),
    ...(tombstone === undefined ? {} : { tombstone }),
  }
}

export function auditToItem(e: AuditEvent, id: string): Item {
  return {
    pk: s(pk(e.scopeId)),
    sk: s(auditSk(e.at, id)),
    scopeId: s(e.scopeId),
    at: n(e.at),
    actor: s(e.actor),
    action: s(e.action),
    ...(e.version === undefined ? {} : { version: n(e.version) }),
    ...(e.detail === undefined ? {} : { detail: s(e.detail) }),
  }
}

export function auditFromItem(item: Item): AuditEvent {
  const version = optN(item, 'version')
  const detail = optS(item, 'detail')
  return {
    at: getN(item, 'at'),
    actor: getS(item, 'actor'),
    action: getS(item, 'action') as AuditEvent['action'],
    scopeId: getS(item, 'scopeId'),
    ...(version === undefined ? {} : { version }),
    ...(detail === undefined ? {} : { detail }),
  }
}
