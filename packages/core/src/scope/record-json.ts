/**
 * JSON encoding of key-store records (used by {@link FileKeyStore}): wrapped keys as base64, and strict
 * validation on the way in, so a corrupt or hand-edited file is reported, not half-used.
 */
import { KeyStoreError } from '../errors/errors.js'
import type { AuditEvent, ScopeKeyVersion, ScopeRecord, Tombstone } from './key-store.js'

type Json = Record<string, unknown>

function corrupt(what: string, cause?: unknown): KeyStoreError {
  return new KeyStoreError(
    'CORRUPT',
    `The key store holds a corrupt record (${what}).`,
    'Restore the file from a backup; do not edit key store files by hand.',
    cause === undefined ? undefined : { cause },
  )
}

function parseObject(text: string, what: string): Json {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw corrupt(what, cause)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(what)
  return value as Json
}

function str(o: Json, key: string, what: string): string {
  const v = o[key]
  if (typeof v !== 'string') throw corrupt(`${what}: ${key}`)
  return v
}

function num(o: Json, key: string, what: string): number {
  const v = o[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw corrupt(`${what}: ${key}`)
  return v
}

function optStr(o: Json, key: string, what: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, what)
}

function state(o: Json, what: string): 'active' | 'destroyed' {
  const v = o.state
  if (v !== 'active' && v !== 'destroyed') throw corrupt(`${what}: state`)
  return v
}

function tombstone(o: Json, what: string): Tombstone | undefined {
  const t = o.tombstone
  if (t === undefined) return undefined
  if (typeof t !== 'object' || t === null) throw corrupt(`${what}: tombstone`)
  const reason = optStr(t as Json, 'reason', what)
  return {
    destroyedAt: num(t as Json, 'destroyedAt', what),
    destroyedBy: str(t as Json, 'destroyedBy', what),
    ...(reason === undefined ? {} : { reason }),
  }
}

function context(o: Json, what: string): Record<string, string> {
  const c = o.context
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw corrupt(`${what}: context`)
  for (const v of Object.values(c)) if (typeof v !== 'string') throw corrupt(`${what}: context`)
  return { ...(c as Record<string, string>) }
}

/** Serialize a version record. */
export function versionToJson(record: ScopeKeyVersion): string {
  const { wrappedKey, ...rest } = record
  return JSON.stringify({
    ...rest,
    ...(wrappedKey ? { wrappedKey: Buffer.from(wrappedKey).toString('base64') } : {}),
  })
}

/** Parse and validate a version record. */
export function versionFromJson(text: string, what: string): ScopeKeyVersion {
  const o = parseObject(text, what)
  const wrapped = optStr(o, 'wrappedKey', what)
  const end = o.windowEnd
  if (end !== null && (typeof end !== 'number' || !Number.isSafeInteger(end)))
    throw corrupt(`${what}: windowEnd`)
  const rewrappedAt = o.rewrappedAt === undefined ? undefined : num(o, 'rewrappedAt', what)
  const t = tombstone(o, what)
  return {
    scopeId: str(o, 'scopeId', what),
    version: num(o, 'version', what),
    state: state(o, what),
    createdAt: num(o, 'createdAt', what),
    createdBy: str(o, 'createdBy', what),
    windowStart: num(o, 'windowStart', what),
    windowEnd: end,
    wrappingKeyId: str(o, 'wrappingKeyId', what),
    context: context(o, what),
    revision: num(o, 'revision', what),
    ...(wrapped === undefined ? {} : { wrappedKey: new Uint8Array(Buffer.from(wrapped, 'base64')) }),
    ...(rewrappedAt === undefined ? {} : { rewrappedAt }),
    ...(t === undefined ? {} : { tombstone: t }),
  }
}

/** Serialize a scope record. */
export function scopeToJson(record: ScopeRecord): string {
  return JSON.stringify(record)
}

/** Parse and validate a scope record. */
export function scopeFromJson(text: string, what: string): ScopeRecord {
  const o = parseObject(text, what)
  const rootKeyId = optStr(o, 'rootKeyId', what)
  const t = tombstone(o, what)
  let rewrap: ScopeRecord['rewrap']
  if (o.rewrap !== undefined) {
    if (typeof o.rewrap !== 'object' || o.rewrap === null) throw corrupt(`${what}: rewrap`)
    const r = o.rewrap as Json
    rewrap = {
      targetKeyId: str(r, 'targetKeyId', what),
      startedAt: num(r, 'startedAt', what),
      startedBy: str(r, 'startedBy', what),
    }
  }
  return {
    scopeId: str(o, 'scopeId', what),
    state: state(o, what),
    createdAt: num(o, 'createdAt', what),
    revision: num(o, 'revision', what),
    ...(rootKeyId === undefined ? {} : { rootKeyId }),
    ...(rewrap === undefined ? {} : { rewrap }),
    ...(t === undefined ? {} : { tombstone: t }),
  }
}

/** Parse and validate one audit line. */
export function auditFromJson(text: string, what: string): AuditEvent {
  const o = parseObject(text, what)
  const version = o.version === undefined ? undefined : num(o, 'version', what)
  const detail = optStr(o, 'detail', what)
  return {
    at: num(o, 'at', what),
    actor: str(o, 'actor', what),
    action: str(o, 'action', what) as AuditEvent['action'],
    scopeId: str(o, 'scopeId', what),
    ...(version === undefined ? {} : { version }),
    ...(detail === undefined ? {} : { detail }),
  }
}
