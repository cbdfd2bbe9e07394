import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { GRANT_OPERATIONS } from './authorize.js'
import { readContext } from './context.js'
import { KmsServiceError, LocalKmsError } from './errors.js'
import { newGrantToken } from './grant-token.js'
import { canHoldIdentityPolicies } from './identity.js'
import { type IdentityPolicy, parseIdentityPolicy } from './identity-policy.js'
import { KEY_SPECS, newKeyRecord } from './key-factory.js'
import { ownValue } from './own.js'
import { principalAccount } from './policy.js'
import type { EngineState } from './state.js'
import type { GrantConstraints } from './types.js'

/**
 * A seed file: the known world a local KMS starts from. Applying a seed is idempotent: accounts and
 * principals are upserted on every open; keys, aliases and grants are created only when missing (by key
 * id, alias name, grant id), so a seed can be passed on every start of a persistent data directory.
 *
 * ```jsonc
 * {
 *   "region": "us-east-1",                       // optional; the engine option wins
 *   "accounts": [
 *     { "id": "111122223333", "name": "customer",
 *       "principals": [
 *         { "arn": "arn:aws:iam::111122223333:root", "accessKeyId": "test", "secretAccessKey": "test" },
 *         { "arn": "arn:aws:iam::111122223333:role/app", "accessKeyId": "app", "secretAccessKey": "app-secret",
 *           "viaService": "profile.us-east-1.amazonaws.com",   // optional: sets kms:ViaService
 *           "policies": [                                        // optional IAM identity policies (see SeedPrincipal)
 *             { "name": "use-keys", "document": { "Version": "2012-10-17", "Statement": [
 *               { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:111122223333:key/*" } ] } }
 *           ] }
 *       ] },
 *     { "id": "444455556666", "name": "service", "principals": [ ... ] }
 *   ],
 *   "keys": [
 *     { "account": "111122223333", "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
 *       "keySpec": "SYMMETRIC_DEFAULT",            // or RSA_2048, ECC_NIST_P256, ... (default SYMMETRIC_DEFAULT)
 *       "keyUsage": "ENCRYPT_DECRYPT",            // optional, default for the spec
 *       "description": "customer key",
 *       "policy": { "Version": "2012-10-17", "Statement": [ ... ] },   // object or JSON string; default: account root
 *       "state": "Enabled",                       // Enabled | Disabled | PendingDeletion
 *       "pendingWindowInDays": 30,                // with state PendingDeletion
 *       "tags": { "team": "payments" },
 *       "rotation": { "enabled": true, "periodInDays": 365 },
 *       "material": "<base64 of 32 bytes>" }      // optional fixed material, for reproducible test vectors only
 *   ],
 *   "aliases": [ { "account": "111122223333", "name": "alias/customer", "targetKeyId": "1234abcd-..." } ],
 *   "grants": [
 *     { "keyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-...",   // key ARN, or key id with "account"
 *       "grantId": "optional fixed id", "name": "optional",
 *       "granteePrincipal": "arn:aws:iam::444455556666:role/service",
 *       "retiringPrincipal": "arn:aws:iam::444455556666:role/service",
 *       "operations": ["GenerateDataKey", "Decrypt"],
 *       "constraints": { "EncryptionContextSubset": { "tenant": "acme" } } }
 *   ]
 * }
 * ```
 * With neither a seed nor saved state the engine starts with account `111122223333`, its root principal
 * signing with access key `test` / secret `test`.
 *
 * @example
 * ```ts
 * const engine = await LocalKmsEngine.open({
 *   seed: { accounts: [{ id: '111122223333', principals: [{ arn: 'arn:aws:iam::111122223333:root', accessKeyId: 'test', secretAccessKey: 'test' }] }] },
 * })
 * ```
 */
export interface SeedFile {
  region?: string
  accounts: SeedAccount[]
  keys?: SeedKey[]
  aliases?: SeedAlias[]
  grants?: SeedGrant[]
}

/**
 * An account of a {@link SeedFile}.
 *
 * @example
 * ```ts
 * const account: SeedAccount = { id: '444455556666', name: 'service', principals: [] }
 * ```
 */
export interface SeedAccount {
  /** 12-digit account id. */
  id: string
  name?: string
  principals?: SeedPrincipal[]
}

/**
 * A principal with its access key. The ARN's account must be the enclosing account.
 *
 * `policies` are the IAM identity policies of an IAM user or role (not of the account root user, which
 * IAM policies never restrict). **Without `policies` the principal keeps the implicit allow-all default**
 * (as if it had an administrator policy): a key policy naming its account lets it in, as before identity
 * policies were modelled. `policies: []` gives it no IAM permissions at all. When a seed gives `policies`
 * they replace the principal's policies on every open; when it does not, policies set at run time
 * (`engine.putPrincipalPolicy`) and saved in the data directory are kept.
 *
 * @example
 * ```ts
 * const p: SeedPrincipal = {
 *   arn: 'arn:aws:iam::444455556666:role/svc',
 *   accessKeyId: 'svc',
 *   secretAccessKey: 's',
 *   policies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }] }],
 * }
 * ```
 */
export interface SeedPrincipal {
  arn: string
  accessKeyId: string
  secretAccessKey: string
  viaService?: string
  policies?: SeedIdentityPolicy[]
}

/**
 * An IAM identity policy of a {@link SeedPrincipal}: a policy document (object or JSON string), named
 * `policy-<index>`, or `{ name, document }`.
 *
 * @example
 * ```ts
 * const named: SeedIdentityPolicy = { name: 'no-decrypt', document: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }] } }
 * ```
 */
export type SeedIdentityPolicy =
  | string
  | Record<string, unknown>
  | { name: string; document: string | Record<string, unknown> }

/** A faulty entry of a seed principal's `policies`: its index and what is wrong. */
class SeedPolicyError extends Error {
  constructor(
    readonly index: number,
    what: string,
  ) {
    super(what)
  }
}

/** The named, parsed identity policies of a seed principal. Throws SeedPolicyError. */
function seedPolicies(policies: unknown[]): Map<string, IdentityPolicy> {
  const out = new Map<string, IdentityPolicy>()
  policies.forEach((entry, i) => {
    const named = isObj(entry) && entry.document !== undefined && entry.Statement === undefined
    const name = named ? (entry as { name?: unknown }).name : `policy-${i}`
    // Precondition: a policy name of 1-128 characters [\w+=,.@-], once.
    if (typeof name !== 'string' || !/^[\w+=,.@-]{1,128}$/.test(name))
      throw new SeedPolicyError(i, 'needs a name of 1-128 characters [\\w+=,.@-]')
    if (out.has(name)) throw new SeedPolicyError(i, `repeats policy name ${name}`)
    const document = named ? (entry as { document: unknown }).document : entry
    if (typeof document !== 'string' && !isObj(document))
      throw new SeedPolicyError(i, 'must be a policy document (object or JSON string) or { name, document }')
    try {
      out.set(name, parseIdentityPolicy(document))
    } catch (err) {
      throw new SeedPolicyError(i, `is not a valid identity policy: ${(err as Error).message}`)
    }
  })
  return out
}

/**
 * A key of a {@link SeedFile}.
 *
 * @example
 * ```ts
 * const k: SeedKey = { account: '111122223333', keyId: 'orders-key', description: 'orders', state: 'Enabled' }
 * ```
 */
export interface SeedKey {
  account: string
  keyId: string
  keySpec?: string
  keyUsage?: string
  description?: string
  policy?: string | Record<string, unknown>
  state?: 'Enabled' | 'Disabled' | 'PendingDeletion'
  pendingWindowInDays?: number
  tags?: Record<string, string>
  rotation?: { enabled: boolean; periodInDays?: number }
  material?: string
}

/**
 * An alias of a {@link SeedFile}.
 *
 * @example
 * ```ts
 * const a: SeedAlias = { account: '111122223333', name: 'alias/orders', targetKeyId: 'orders-key' }
 * ```
 */
export interface SeedAlias {
  account: string
  name: string
  targetKeyId: string
}

/**
 * A grant of a {@link SeedFile}: `keyId` is a key ARN, or a key id together with `account`.
 *
 * @example
 * ```ts
 * const g: SeedGrant = { keyId: 'orders-key', account: '111122223333', granteePrincipal: 'arn:aws:iam::444455556666:role/svc', operations: ['Decrypt'] }
 * ```
 */
export interface SeedGrant {
  keyId: string
  account?: string
  grantId?: string
  name?: string
  granteePrincipal: string
  retiringPrincipal?: string
  operations: string[]
  constraints?: GrantConstraints
}

const bad = (path: string, what: string) =>
  new LocalKmsError(
    'ERR_LOCAL_KMS_SEED',
    `Invalid local KMS seed: ${path} ${what}. See the SeedFile documentation in src/engine/seed.ts.`,
  )

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const ACCOUNT = /^\d{12}$/
const KEY_ID = /^[a-zA-Z0-9-]{1,128}$/

function str(o: Record<string, unknown>, field: string, path: string, required: boolean): string | undefined {
  const v = o[field]
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v.length === 0) throw bad(`${path}.${field}`, 'must be a non-empty string')
  return v
}

function arr(o: Record<string, unknown>, field: string, path: string): unknown[] {
  const v = o[field]
  if (v === undefined) return []
  if (!Array.isArray(v)) throw bad(`${path}.${field}`, 'must be an array')
  return v
}

/** Read a seed (object or path to a JSON file) and validate it. Throws LocalKmsError with the path of the problem. */
export function loadSeed(seed: SeedFile | string): SeedFile {
  let raw: unknown = seed
  if (typeof seed === 'string') {
    try {
      raw = JSON.parse(readFileSync(seed, 'utf8'))
    } catch (err) {
      throw new LocalKmsError(
        'ERR_LOCAL_KMS_SEED',
        `Cannot read the seed file ${seed}: ${(err as Error).message}`,
        { cause: err },
      )
    }
  }
  validateSeed(raw)
  return raw
}

/**
 * Validate a seed object; throws LocalKmsError (`ERR_LOCAL_KMS_SEED`) naming the faulty path.
 *
 * @example
 * ```ts
 * validateSeed(JSON.parse(readFileSync('seed.json', 'utf8')))
 * ```
 */
export function validateSeed(raw: unknown): asserts raw is SeedFile {
  // Precondition: a seed is an object with an accounts array.
  if (!isObj(raw)) throw bad('seed', 'must be a JSON object')
  if (raw.region !== undefined) str(raw, 'region', 'seed', true)
  const accounts = arr(raw, 'accounts', 'seed')
  const accountIds = new Set<string>()
  const accessKeys = new Set<string>()
  accounts.forEach((a, i) => {
    const p = `accounts[${i}]`
    if (!isObj(a)) throw bad(p, 'must be an object')
    const id = str(a, 'id', p, true) as string
    // Precondition: a 12-digit account id, once.
    if (!ACCOUNT.test(id)) throw bad(`${p}.id`, 'must be a 12-digit account id')
    if (accountIds.has(id)) throw bad(`${p}.id`, `repeats account ${id}`)
    accountIds.add(id)
    str(a, 'name', p, false)
    arr(a, 'principals', p).forEach((pr, j) => {
      const pp = `${p}.principals[${j}]`
      if (!isObj(pr)) throw bad(pp, 'must be an object')
      const arn = str(pr, 'arn', pp, true) as string
      // Precondition: the principal ARN belongs to the enclosing account.
      if (principalAccount(arn) !== id || /^\d{12}$/.test(arn))
        throw bad(`${pp}.arn`, `must be an IAM or STS ARN of account ${id}`)
      const akid = str(pr, 'accessKeyId', pp, true) as string
      if (accessKeys.has(akid)) throw bad(`${pp}.accessKeyId`, `repeats access key ${akid}`)
      accessKeys.add(akid)
      str(pr, 'secretAccessKey', pp, true)
      str(pr, 'viaService', pp, false)
      if (pr.policies !== undefined) {
        // Precondition: identity policies only on IAM users and roles, as a list.
        if (!canHoldIdentityPolicies(arn))
          throw bad(
            `${pp}.policies`,
            'are only for IAM users and roles (not the account root user or a session)',
          )
        if (!Array.isArray(pr.policies)) throw bad(`${pp}.policies`, 'must be an array')
        try {
          seedPolicies(pr.policies)
        } catch (err) {
          if (err instanceof SeedPolicyError) throw bad(`${pp}.policies[${err.index}]`, err.message)
          throw err
        }
      }
    })
  })
  arr(raw, 'keys', 'seed').forEach((k, i) => {
    const p = `keys[${i}]`
    if (!isObj(k)) throw bad(p, 'must be an object')
    const account = str(k, 'account', p, true) as string
    if (!ACCOUNT.test(account)) throw bad(`${p}.account`, 'must be a 12-digit account id')
    if (!KEY_ID.test(str(k, 'keyId', p, true) as string))
      throw bad(`${p}.keyId`, 'must be 1-128 letters, digits or -')
    const spec = str(k, 'keySpec', p, false)
    if (spec !== undefined && !ownValue(KEY_SPECS, spec))
      throw bad(`${p}.keySpec`, `must be one of ${Object.keys(KEY_SPECS).join(', ')}`)
    str(k, 'keyUsage', p, false)
    if (k.description !== undefined && typeof k.description !== 'string')
      throw bad(`${p}.description`, 'must be a string')
    if (k.policy !== undefined && typeof k.policy !== 'string' && !isObj(k.policy))
      throw bad(`${p}.policy`, 'must be an object or a JSON string')
    if (k.state !== undefined && !['Enabled', 'Disabled', 'PendingDeletion'].includes(k.state as string)) {
      throw bad(`${p}.state`, 'must be Enabled, Disabled or PendingDeletion')
    }
    if (
      k.tags !== undefined &&
      (!isObj(k.tags) || !Object.values(k.tags).every((v) => typeof v === 'string'))
    ) {
      throw bad(`${p}.tags`, 'must be an object of strings')
    }
    if (k.rotation !== undefined && (!isObj(k.rotation) || typeof k.rotation.enabled !== 'boolean')) {
      throw bad(`${p}.rotation`, 'must be { enabled: boolean, periodInDays?: number }')
    }
    if (
      k.material !== undefined &&
      (typeof k.material !== 'string' || Buffer.from(k.material, 'base64').length !== 32)
    ) {
      throw bad(`${p}.material`, 'must be base64 of exactly 32 bytes')
    }
  })
  arr(raw, 'aliases', 'seed').forEach((a, i) => {
    const p = `aliases[${i}]`
    if (!isObj(a)) throw bad(p, 'must be an object')
    if (!ACCOUNT.test(str(a, 'account', p, true) as string))
      throw bad(`${p}.account`, 'must be a 12-digit account id')
    const name = str(a, 'name', p, true) as string
    if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name) || name.startsWith('alias/aws/'))
      throw bad(`${p}.name`, 'must match alias/[a-zA-Z0-9/_-]+ (not alias/aws/)')
    str(a, 'targetKeyId', p, true)
  })
  arr(raw, 'grants', 'seed').forEach((g, i) => {
    const p = `grants[${i}]`
    if (!isObj(g)) throw bad(p, 'must be an object')
    str(g, 'keyId', p, true)
    str(g, 'account', p, false)
    str(g, 'grantId', p, false)
    str(g, 'name', p, false)
    str(g, 'granteePrincipal', p, true)
    str(g, 'retiringPrincipal', p, false)
    const ops = arr(g, 'operations', p)
    if (ops.length === 0 || !ops.every((o) => typeof o === 'string' && GRANT_OPERATIONS.has(o))) {
      throw bad(`${p}.operations`, `must list grant operations (${[...GRANT_OPERATIONS].join(', ')})`)
    }
    if (g.constraints !== undefined) {
      if (!isObj(g.constraints)) throw bad(`${p}.constraints`, 'must be an object')
      try {
        readContext(g.constraints.EncryptionContextEquals)
        readContext(g.constraints.EncryptionContextSubset)
      } catch {
        throw bad(
          `${p}.constraints`,
          'must hold EncryptionContextEquals / EncryptionContextSubset maps of strings',
        )
      }
    }
  })
}

/** Apply a validated seed to the state (idempotent). Throws LocalKmsError when it refers to unknown things. */
export function applySeed(state: EngineState, seed: SeedFile, now: number): void {
  for (const a of seed.accounts) {
    const account = state.addAccount(a)
    if (a.name !== undefined) account.name = a.name
    for (const p of a.principals ?? []) {
      const principal: { arn: string; accessKeyId: string; secretAccessKey: string; viaService?: string } = {
        arn: p.arn,
        accessKeyId: p.accessKeyId,
        secretAccessKey: p.secretAccessKey,
      }
      if (p.viaService !== undefined) principal.viaService = p.viaService
      state.addPrincipal(a.id, principal)
      if (p.policies !== undefined) state.identityPolicies.set(p.arn, seedPolicies(p.policies))
    }
  }
  ;(seed.keys ?? []).forEach((k, i) => {
    if (state.keys.has(state.keyArn(k.account, k.keyId))) return
    state.addAccount({ id: k.account })
    try {
      const params: Parameters<typeof newKeyRecord>[1] = { accountId: k.account, keyId: k.keyId }
      if (k.keySpec !== undefined) params.keySpec = k.keySpec
      if (k.keyUsage !== undefined) params.keyUsage = k.keyUsage
      if (k.description !== undefined) params.description = k.description
      if (k.policy !== undefined)
        params.policy = typeof k.policy === 'string' ? k.policy : JSON.stringify(k.policy)
      if (k.tags !== undefined)
        params.tags = Object.entries(k.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }))
      if (k.material !== undefined) params.material = Buffer.from(k.material, 'base64')
      const key = newKeyRecord(state, params, now)
      if (k.state === 'Disabled') key.keyState = 'Disabled'
      if (k.state === 'PendingDeletion') {
        key.keyState = 'PendingDeletion'
        key.pendingWindowInDays = k.pendingWindowInDays ?? 30
        key.deletionDate = now + key.pendingWindowInDays * 86_400_000
      }
      if (k.rotation?.enabled) {
        key.rotationEnabled = true
        key.rotationPeriodInDays = k.rotation.periodInDays ?? 365
        key.nextRotationDate = now + key.rotationPeriodInDays * 86_400_000
      }
      state.keys.set(key.arn, key)
    } catch (err) {
      if (err instanceof KmsServiceError) throw bad(`keys[${i}]`, `is refused: ${err.message}`)
      throw err
    }
  })
  ;(seed.aliases ?? []).forEach((a, i) => {
    const id = `${a.account}/${a.name}`
    if (state.aliases.has(id)) return
    const target = a.targetKeyId.includes(':key/') ? a.targetKeyId.split(':key/')[1]! : a.targetKeyId
    if (!state.keys.has(state.keyArn(a.account, target)))
      throw bad(`aliases[${i}].targetKeyId`, `names no key of account ${a.account}`)
    state.aliases.set(id, {
      accountId: a.account,
      aliasName: a.name,
      targetKeyId: target,
      creationDate: now,
      lastUpdatedDate: now,
    })
  })
  ;(seed.grants ?? []).forEach((g, i) => {
    let keyArn = g.keyId
    if (!keyArn.startsWith('arn:')) {
      if (!g.account) throw bad(`grants[${i}]`, 'needs a key ARN in keyId, or account with a key id')
      keyArn = state.keyArn(g.account, g.keyId)
    }
    const key = state.keys.get(keyArn)
    if (!key) throw bad(`grants[${i}].keyId`, `names no key (${keyArn})`)
    if (g.grantId !== undefined && state.grants.has(g.grantId)) return
    if (
      g.grantId === undefined &&
      state
        .grantsOf(keyArn)
        .some(
          (x) =>
            x.name === g.name &&
            x.granteePrincipal === g.granteePrincipal &&
            x.operations.join() === g.operations.join(),
        )
    ) {
      return
    }
    const grantId = g.grantId ?? randomBytes(32).toString('hex')
    const grant: Parameters<EngineState['addGrant']>[0] = {
      grantId,
      grantToken: newGrantToken(grantId),
      keyArn,
      granteePrincipal: g.granteePrincipal,
      issuingAccount: `arn:aws:iam::${key.accountId}:root`,
      operations: [...g.operations],
      creationDate: now,
    }
    if (g.name !== undefined) grant.name = g.name
    if (g.retiringPrincipal !== undefined) grant.retiringPrincipal = g.retiringPrincipal
    if (g.constraints !== undefined) grant.constraints = g.constraints
    state.addGrant(grant)
  })
}

/** The world with no seed: account 111122223333, root signing with `test` / `test`. */
export const DEFAULT_SEED: SeedFile = {
  accounts: [
    {
      id: '111122223333',
      name: 'default',
      principals: [{ arn: 'arn:aws:iam::111122223333:root', accessKeyId: 'test', secretAccessKey: 'test' }],
    },
  ],
}
