import type { IdentityPolicy } from './identity-policy.js'
import type { AccountRecord, AliasRecord, GrantRecord, KeyRecord, PrincipalRecord } from './types.js'

/**
 * Everything the engine knows: accounts and their access keys, keys (with backing material), aliases
 * and grants, indexed for the lookups every call makes. Internal.
 */
export class EngineState {
  readonly accounts = new Map<string, AccountRecord>()
  readonly accessKeys = new Map<string, { principal: PrincipalRecord; accountId: string }>()
  /** Keys by key ARN. */
  readonly keys = new Map<string, KeyRecord>()
  /** Aliases by `${accountId}/${aliasName}`. */
  readonly aliases = new Map<string, AliasRecord>()
  /** Grants by grant id. */
  readonly grants = new Map<string, GrantRecord>()
  /** Grant ids by key ARN. */
  readonly grantsByKey = new Map<string, Set<string>>()
  /** Grant ids by grant token. */
  readonly grantsByToken = new Map<string, string>()
  /**
   * IAM identity policies by IAM user or role ARN, then by policy name. A principal without an entry has
   * the implicit allow-all default (see identity.ts); an entry with no policies allows nothing.
   */
  readonly identityPolicies = new Map<string, Map<string, IdentityPolicy>>()

  constructor(readonly region: string) {}

  keyArn(accountId: string, keyId: string): string {
    return `arn:aws:kms:${this.region}:${accountId}:key/${keyId}`
  }

  aliasArn(accountId: string, aliasName: string): string {
    return `arn:aws:kms:${this.region}:${accountId}:${aliasName}`
  }

  addAccount(account: { id: string; name?: string }): AccountRecord {
    const existing = this.accounts.get(account.id)
    if (existing) return existing
    const record: AccountRecord = { id: account.id, principals: [] }
    if (account.name !== undefined) record.name = account.name
    this.accounts.set(account.id, record)
    return record
  }

  addPrincipal(accountId: string, principal: PrincipalRecord): void {
    const account = this.addAccount({ id: accountId })
    const previous = this.accessKeys.get(principal.accessKeyId)
    if (previous) {
      const acct = this.accounts.get(previous.accountId)
      if (acct) acct.principals = acct.principals.filter((p) => p.accessKeyId !== principal.accessKeyId)
    }
    account.principals.push(principal)
    this.accessKeys.set(principal.accessKeyId, { principal, accountId })
  }

  addGrant(grant: GrantRecord): void {
    this.grants.set(grant.grantId, grant)
    this.grantsByToken.set(grant.grantToken, grant.grantId)
    let set = this.grantsByKey.get(grant.keyArn)
    if (!set) {
      set = new Set()
      this.grantsByKey.set(grant.keyArn, set)
    }
    set.add(grant.grantId)
  }

  removeGrant(grantId: string): void {
    const grant = this.grants.get(grantId)
    if (!grant) return
    this.grants.delete(grantId)
    this.grantsByToken.delete(grant.grantToken)
    this.grantsByKey.get(grant.keyArn)?.delete(grantId)
  }

  grantsOf(keyArn: string): GrantRecord[] {
    const ids = this.grantsByKey.get(keyArn)
    if (!ids) return []
    const out: GrantRecord[] = []
    for (const id of ids) {
      const g = this.grants.get(id)
      if (g) out.push(g)
    }
    return out
  }

  /** Remove a key for good (its deletion date passed), with its aliases and grants. */
  purgeKey(key: KeyRecord): void {
    for (const g of this.grantsOf(key.arn)) this.removeGrant(g.grantId)
    this.grantsByKey.delete(key.arn)
    for (const [id, alias] of this.aliases) {
      if (alias.accountId === key.accountId && alias.targetKeyId === key.keyId) this.aliases.delete(id)
    }
    for (const m of key.materials) m.material.fill(0)
    this.keys.delete(key.arn)
  }
}
