import { LocalKmsError } from './errors.js'
import { type IdentityPolicy, parseIdentityPolicy } from './identity-policy.js'
import { openMaterial, sealMaterial } from './master-key.js'
import { EngineState } from './state.js'
import type { AccountRecord, AliasRecord, GrantRecord, KeyRecord, MaterialVersion } from './types.js'

/** One material version on disk: sealed under the master key, or in the clear (dev opt-in). */
interface StoredMaterial {
  version: number
  createdAt: number
  sealed?: string
  plaintext?: string
}

/** The state file `<dataDir>/state.json`. */
interface StoredState {
  format: 'kms-envelope-local-kms-state'
  version: 1
  region: string
  accounts: AccountRecord[]
  keys: (Omit<KeyRecord, 'materials'> & { materials: StoredMaterial[] })[]
  aliases: AliasRecord[]
  grants: GrantRecord[]
  /** IAM identity policies by principal ARN (absent in files written before they were modelled). */
  identityPolicies?: { principalArn: string; policies: { name: string; document: string }[] }[]
}

const sealCache = new WeakMap<MaterialVersion, string>()

/** How material is protected on disk. `masterKey` undefined means in the clear. Internal. */
export interface MaterialProtection {
  masterKey: () => Buffer
  plaintext: boolean
  /** Zeroize the master key if it was loaded. */
  dispose: () => void
}

/** Serialize the whole state to the JSON the state file holds. Internal. */
export function serializeState(state: EngineState, protection: MaterialProtection): string {
  const stored: StoredState = {
    format: 'kms-envelope-local-kms-state',
    version: 1,
    region: state.region,
    accounts: [...state.accounts.values()],
    keys: [...state.keys.values()].map((k) => ({
      ...k,
      materials: k.materials.map((m): StoredMaterial => {
        if (protection.plaintext)
          return { version: m.version, createdAt: m.createdAt, plaintext: m.material.toString('base64') }
        let sealed = sealCache.get(m)
        if (!sealed) {
          sealed = sealMaterial(protection.masterKey(), m.material, `${k.arn}#${m.version}`)
          sealCache.set(m, sealed)
        }
        return { version: m.version, createdAt: m.createdAt, sealed }
      }),
    })),
    aliases: [...state.aliases.values()],
    grants: [...state.grants.values()],
    identityPolicies: [...state.identityPolicies].map(([principalArn, policies]) => ({
      principalArn,
      policies: [...policies].map(([name, p]) => ({ name, document: p.document })),
    })),
  }
  return JSON.stringify(stored)
}

/** Rebuild the state from the state file's JSON. Internal. */
export function deserializeState(json: string, protection: MaterialProtection, path: string): EngineState {
  let stored: StoredState
  try {
    stored = JSON.parse(json) as StoredState
  } catch (err) {
    throw new LocalKmsError('ERR_LOCAL_KMS_STATE', `${path} is not valid JSON; restore it from backup.`, {
      cause: err,
    })
  }
  // Precondition: a state file this version wrote.
  if (stored?.format !== 'kms-envelope-local-kms-state' || stored.version !== 1) {
    throw new LocalKmsError('ERR_LOCAL_KMS_STATE', `${path} is not a local KMS state file (version 1).`)
  }
  const state = new EngineState(stored.region)
  for (const a of stored.accounts) {
    state.addAccount(a)
    for (const p of a.principals) state.addPrincipal(a.id, p)
  }
  for (const k of stored.keys) {
    const materials = k.materials.map((m): MaterialVersion => {
      const material =
        m.sealed !== undefined
          ? openMaterial(protection.masterKey(), m.sealed, `${k.arn}#${m.version}`)
          : Buffer.from(m.plaintext ?? '', 'base64')
      const mv = { version: m.version, createdAt: m.createdAt, material }
      if (m.sealed !== undefined) sealCache.set(mv, m.sealed)
      return mv
    })
    state.keys.set(k.arn, { ...k, materials })
  }
  for (const a of stored.aliases) state.aliases.set(`${a.accountId}/${a.aliasName}`, a)
  for (const g of stored.grants) state.addGrant(g)
  for (const entry of stored.identityPolicies ?? []) {
    const policies = new Map<string, IdentityPolicy>()
    for (const p of entry.policies) {
      try {
        policies.set(p.name, parseIdentityPolicy(p.document))
      } catch (err) {
        throw new LocalKmsError(
          'ERR_LOCAL_KMS_STATE',
          `${path}: identity policy ${p.name} of ${entry.principalArn} is invalid (${(err as Error).message}).`,
          { cause: err },
        )
      }
    }
    state.identityPolicies.set(entry.principalArn, policies)
  }
  return state
}
