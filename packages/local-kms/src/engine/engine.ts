import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-file.js'
import { AuditLog } from './audit.js'
import { KmsServiceError, LocalKmsError } from './errors.js'
import { FaultSwitch } from './faults.js'
import { canHoldIdentityPolicies } from './identity.js'
import { MalformedIdentityPolicyError, parseIdentityPolicy } from './identity-policy.js'
import { acquireLock } from './lock.js'
import { loadMasterKey } from './master-key.js'
import type { OpContext, Operation } from './operation.js'
import { aliasOperations } from './operations/aliases.js'
import { asymmetricOperations } from './operations/asymmetric.js'
import { cryptoOperations } from './operations/crypto.js'
import { grantOperations } from './operations/grants.js'
import { keyOperations } from './operations/keys.js'
import { rotationOperations } from './operations/rotation.js'
import { taggingOperations } from './operations/tagging.js'
import { ownValue } from './own.js'
import { principalAccount } from './policy.js'
import { applySeed, DEFAULT_SEED, loadSeed, type SeedFile } from './seed.js'
import { deserializeState, type MaterialProtection, serializeState } from './snapshot.js'
import { EngineState } from './state.js'
import type { AuditEvent, CallerIdentity } from './types.js'

/**
 * Options of {@link LocalKmsEngine.open}.
 *
 * @example
 * ```ts
 * const engine = await LocalKmsEngine.open({ dataDir: '.local-kms', seed: 'seed.json', region: 'eu-west-1' })
 * ```
 */
export interface EngineOptions {
  /** Directory for state, master key, lock and audit.log. Omitted: memory only. */
  dataDir?: string
  /** Seed object or path to a seed JSON file (see {@link SeedFile}). Applied idempotently on every open. */
  seed?: SeedFile | string
  /** Region in ARNs. Default: the saved state's, else the seed's, else `us-east-1`. */
  region?: string
  /** Dev opt-in: write key material in the clear in state.json. Default false: sealed under master.key (0600). */
  plaintextKeyMaterial?: boolean
  /** Clock, epoch milliseconds (tests move it to pass deletion dates and rotation periods). Default Date.now. */
  now?: () => number
  /** Audit events kept in memory for auditLog(). Default 10,000. The audit.log file keeps all. */
  auditMemoryLimit?: number
  /**
   * Grant eventual consistency, as in AWS KMS: for this many milliseconds after CreateGrant, a grant
   * authorizes a request only if the request's `GrantTokens` include that grant's token (AWS: "typically
   * less than a few seconds", up to several minutes); after it, with or without the token. ListGrants,
   * RetireGrant and RevokeGrant see the grant at once. Default 0: a grant is effective at once.
   */
  grantPropagationMs?: number
}

/**
 * A principal to add with {@link LocalKmsEngine.addAccessKey}; its account is taken from the ARN.
 *
 * @example
 * ```ts
 * const key: NewAccessKey = { principalArn: 'arn:aws:iam::444455556666:role/svc', accessKeyId: 'svc', secretAccessKey: 's' }
 * ```
 */
export interface NewAccessKey {
  principalArn: string
  accessKeyId: string
  secretAccessKey: string
  viaService?: string
}

const OPERATIONS: Record<string, Operation> = {
  ...keyOperations,
  ...cryptoOperations,
  ...grantOperations,
  ...aliasOperations,
  ...rotationOperations,
  ...taggingOperations,
  ...asymmetricOperations,
}

/**
 * The local KMS engine: keys, key policies, grants, aliases, rotation and the audit trail, with AWS KMS
 * semantics, driven by wire-shaped JSON. The HTTP transport and the in-process client both call
 * {@link LocalKmsEngine.call}.
 *
 * @example
 * ```ts
 * const engine = await LocalKmsEngine.open()
 * const { caller } = engine.resolveAccessKey('test')!
 * const { KeyMetadata } = await engine.call('CreateKey', {}, caller)
 * const dk = await engine.call('GenerateDataKey', { KeyId: (KeyMetadata as { Arn: string }).Arn, KeySpec: 'AES_256' }, caller)
 * await engine.close()
 * ```
 */
export class LocalKmsEngine {
  /** Region in every ARN this engine issues. */
  readonly region: string
  /** Fault injection for tests: throttle, fail or slow chosen operations. */
  readonly faults = new FaultSwitch()

  private readonly policyCache: OpContext['policyCache'] = new Map()
  private closed = false
  private writing: Promise<void> | null = null
  private pendingWrite: Promise<void> | null = null

  private constructor(
    private readonly state: EngineState,
    private readonly options: EngineOptions,
    private readonly audit: AuditLog,
    private readonly protection: MaterialProtection,
    private readonly release: () => void,
    private readonly clock: () => number,
  ) {
    this.region = state.region
  }

  /**
   * Open an engine: take the data directory's lock, load the saved state, apply the seed. Throws
   * LocalKmsError (`ERR_LOCAL_KMS_LOCKED` when another live process holds the directory).
   */
  static async open(options: EngineOptions = {}): Promise<LocalKmsEngine> {
    const clock = options.now ?? Date.now
    const propagation = options.grantPropagationMs
    // Precondition: a propagation delay is a non-negative whole number of milliseconds.
    if (propagation !== undefined && !(Number.isSafeInteger(propagation) && propagation >= 0)) {
      throw new LocalKmsError(
        'ERR_LOCAL_KMS_OPTION',
        `grantPropagationMs must be a whole number of milliseconds >= 0, got ${String(propagation)}.`,
      )
    }
    const seed = options.seed === undefined ? undefined : loadSeed(options.seed)
    const dataDir = options.dataDir
    let release = () => {}
    let masterKey: Buffer | undefined
    const protection: MaterialProtection = {
      plaintext: options.plaintextKeyMaterial === true,
      masterKey: () => {
        if (!dataDir) throw new LocalKmsError('ERR_LOCAL_KMS_STATE', 'No data directory: nothing to seal.')
        masterKey ??= loadMasterKey(dataDir)
        return masterKey
      },
      dispose: () => {
        masterKey?.fill(0)
        masterKey = undefined
      },
    }
    let state: EngineState | undefined
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      release = acquireLock(dataDir)
      try {
        const statePath = join(dataDir, 'state.json')
        if (existsSync(statePath)) {
          state = deserializeState(readFileSync(statePath, 'utf8'), protection, statePath)
          // Precondition: a saved directory keeps its region (every ARN in it carries the region).
          if (options.region !== undefined && options.region !== state.region) {
            throw new LocalKmsError(
              'ERR_LOCAL_KMS_STATE',
              `${dataDir} holds keys of region ${state.region}; open it with region ${state.region} or use another data directory.`,
            )
          }
        }
        if (!protection.plaintext) protection.masterKey()
      } catch (err) {
        release()
        throw err
      }
    }
    const fresh = state === undefined
    state ??= new EngineState(options.region ?? seed?.region ?? 'us-east-1')
    const now = clock()
    if (seed) applySeed(state, seed, now)
    else if (fresh) applySeed(state, DEFAULT_SEED, now)
    const audit = new AuditLog(
      dataDir ? join(dataDir, 'audit.log') : undefined,
      options.auditMemoryLimit ?? 10_000,
    )
    const engine = new LocalKmsEngine(state, options, audit, protection, release, clock)
    try {
      await engine.persist()
    } catch (err) {
      release()
      throw err
    }
    return engine
  }

  /** The secret and identity of an access key, or undefined when unknown (the transport answers UnrecognizedClientException). */
  resolveAccessKey(accessKeyId: string): { secretAccessKey: string; caller: CallerIdentity } | undefined {
    const entry = this.state.accessKeys.get(accessKeyId)
    if (!entry) return undefined
    const caller: CallerIdentity = {
      accessKeyId,
      accountId: entry.accountId,
      principalArn: entry.principal.arn,
    }
    if (entry.principal.viaService !== undefined) caller.viaService = entry.principal.viaService
    return { secretAccessKey: entry.principal.secretAccessKey, caller }
  }

  /**
   * Add (or replace) an access key for a principal; the account is created when new. Persisted.
   *
   * @example
   * ```ts
   * const caller = await engine.addAccessKey({ principalArn: 'arn:aws:iam::444455556666:role/svc', accessKeyId: 'svc', secretAccessKey: 's' })
   * ```
   */
  async addAccessKey(key: NewAccessKey): Promise<CallerIdentity> {
    const accountId = principalAccount(key.principalArn)
    // Precondition: an IAM or STS principal ARN (its account is taken from it).
    if (!accountId || /^\d{12}$/.test(key.principalArn)) {
      throw new LocalKmsError('ERR_LOCAL_KMS_SEED', `${key.principalArn} is not an IAM or STS principal ARN.`)
    }
    this.state.addPrincipal(accountId, {
      arn: key.principalArn,
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      ...(key.viaService !== undefined ? { viaService: key.viaService } : {}),
    })
    await this.persist()
    return this.resolveAccessKey(key.accessKeyId)!.caller
  }

  /**
   * Attach (or replace) the IAM identity policy `name` of an IAM user or role, as IAM's
   * PutUserPolicy / PutRolePolicy would; it applies from the next call on. The first policy given to a
   * principal ends its implicit allow-all default (see README, "IAM identity policies"). Persisted.
   * Throws LocalKmsError `ERR_LOCAL_KMS_POLICY` for a root or session ARN or a malformed document.
   *
   * @example
   * ```ts
   * await engine.putPrincipalPolicy('arn:aws:iam::111122223333:role/app', 'use-keys', {
   *   Version: '2012-10-17',
   *   Statement: [{ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: 'arn:aws:kms:*:111122223333:key/*' }],
   * })
   * ```
   */
  async putPrincipalPolicy(
    principalArn: string,
    name: string,
    document: string | Record<string, unknown>,
  ): Promise<void> {
    // Precondition: an IAM user or role ARN (the root user and sessions carry no identity policies).
    if (!canHoldIdentityPolicies(principalArn))
      throw new LocalKmsError(
        'ERR_LOCAL_KMS_POLICY',
        `${principalArn} cannot carry identity policies: only IAM users and roles can (not the account root user, not an assumed-role session).`,
      )
    // Precondition: a policy name of 1-128 characters [\w+=,.@-].
    if (!/^[\w+=,.@-]{1,128}$/.test(name))
      throw new LocalKmsError(
        'ERR_LOCAL_KMS_POLICY',
        `Policy name ${name} must be 1-128 characters [\\w+=,.@-].`,
      )
    let policy: ReturnType<typeof parseIdentityPolicy>
    try {
      policy = parseIdentityPolicy(document)
    } catch (err) {
      if (err instanceof MalformedIdentityPolicyError)
        throw new LocalKmsError('ERR_LOCAL_KMS_POLICY', `Policy ${name} of ${principalArn}: ${err.message}`)
      throw err
    }
    let policies = this.state.identityPolicies.get(principalArn)
    if (!policies) {
      policies = new Map()
      this.state.identityPolicies.set(principalArn, policies)
    }
    policies.set(name, policy)
    await this.persist()
  }

  /**
   * Remove the identity policy `name` of an IAM user or role (IAM's DeleteUserPolicy / DeleteRolePolicy),
   * e.g. to revoke access in a test. Removing the last one leaves the principal with no IAM permissions
   * (it does not bring back the implicit allow-all default). Returns whether the policy existed. Persisted.
   *
   * @example
   * ```ts
   * await engine.deletePrincipalPolicy('arn:aws:iam::111122223333:role/app', 'use-keys')
   * ```
   */
  async deletePrincipalPolicy(principalArn: string, name: string): Promise<boolean> {
    const policies = this.state.identityPolicies.get(principalArn)
    if (!policies?.has(name)) return false
    policies.delete(name)
    await this.persist()
    return true
  }

  /**
   * The identity policies of an IAM user or role, by name (JSON documents), or `undefined` when it has
   * the implicit allow-all default (never given `policies`).
   *
   * @example
   * ```ts
   * engine.principalPolicies('arn:aws:iam::111122223333:role/app') // { 'use-keys': '{"Version":...}' }
   * ```
   */
  principalPolicies(principalArn: string): Record<string, string> | undefined {
    const policies = this.state.identityPolicies.get(principalArn)
    if (!policies) return undefined
    return Object.fromEntries([...policies].map(([n, p]) => [n, p.document]))
  }

  /** Create an account (no principals) if it does not exist. Persisted. */
  async createAccount(id: string, name?: string): Promise<void> {
    // Precondition: 12-digit account id.
    if (!/^\d{12}$/.test(id))
      throw new LocalKmsError('ERR_LOCAL_KMS_SEED', `Account id ${id} must be 12 digits.`)
    this.state.addAccount(name === undefined ? { id } : { id, name })
    await this.persist()
  }

  /** The accounts and their principals (secrets included: this is a local test KMS). */
  accounts(): { id: string; name?: string; principals: { arn: string; accessKeyId: string }[] }[] {
    return [...this.state.accounts.values()].map((a) => ({
      id: a.id,
      ...(a.name !== undefined ? { name: a.name } : {}),
      principals: a.principals.map((p) => ({ arn: p.arn, accessKeyId: p.accessKeyId })),
    }))
  }

  /** The operation names `call` accepts. */
  operations(): string[] {
    return Object.keys(OPERATIONS)
  }

  /**
   * One KMS operation on wire-shaped JSON (blobs base64 strings, timestamps epoch seconds), exactly as
   * the KMS JSON 1.1 protocol carries them. Throws KmsServiceError.
   */
  async call(
    operation: string,
    input: Record<string, unknown>,
    caller: CallerIdentity,
  ): Promise<Record<string, unknown>> {
    const ctx: OpContext = {
      state: this.state,
      caller,
      now: this.clock(),
      audit: { keys: [], requestParameters: {} },
      dirty: false,
      policyCache: this.policyCache,
      grantPropagationMs: this.options.grantPropagationMs ?? 0,
      // Validated by the operations that take them (InvalidGrantTokenException); only read by authorize().
      grantTokens: Array.isArray(input?.GrantTokens)
        ? input.GrantTokens.filter((t): t is string => typeof t === 'string')
        : [],
    }
    const op = ownValue(OPERATIONS, operation)
    try {
      if (this.closed)
        throw new KmsServiceError('KMSInternalException', 'The local KMS engine is closed.', 500)
      await this.faults.apply(operation)
      // Precondition: an operation the engine implements.
      if (!op)
        throw new KmsServiceError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by the local KMS.`,
        )
      // Precondition: the request body is a JSON object.
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new KmsServiceError('SerializationException', 'The request body must be a JSON object.')
      }
      let result: Record<string, unknown>
      try {
        result = op.run(ctx, input)
      } catch (err) {
        // A failed call changed nothing, except what time did (a deletion date passed): save that, keep the error.
        if (ctx.dirty) await this.persist().catch(() => undefined)
        throw err
      }
      // Postcondition: a successful mutating call returns only once its change is on disk.
      if (ctx.dirty || op.mutating) await this.persistOrFail()
      this.record(operation, op, ctx)
      return result
    } catch (err) {
      const error =
        err instanceof KmsServiceError
          ? err
          : Object.assign(
              new KmsServiceError('KMSInternalException', 'The local KMS failed internally.', 500),
              { cause: err },
            )
      this.record(operation, op, ctx, error)
      throw error
    }
  }

  /** The most recent audit events (CloudTrail-like), oldest first. */
  auditLog(): AuditEvent[] {
    return this.audit.list()
  }

  /** Flush the audit log and the state, release the data directory's lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.persist()
      await this.audit.flush()
    } finally {
      // Postcondition: no key material stays in memory after close.
      for (const key of this.state.keys.values()) for (const m of key.materials) m.material.fill(0)
      this.protection.dispose()
      this.release()
    }
  }

  private record(
    operation: string,
    op: Operation | undefined,
    ctx: OpContext,
    error?: KmsServiceError,
  ): void {
    this.audit.record({
      time: ctx.now,
      region: this.region,
      operation,
      caller: ctx.caller,
      readOnly: op ? !op.mutating : true,
      keys: ctx.audit.keys,
      requestParameters: ctx.audit.requestParameters,
      ...(ctx.audit.grantId !== undefined ? { grantId: ctx.audit.grantId } : {}),
      ...(error ? { error: { type: error.type, message: error.message } } : {}),
    })
  }

  private async persistOrFail(): Promise<void> {
    try {
      await this.persist()
    } catch (err) {
      throw Object.assign(
        new KmsServiceError(
          'KMSInternalException',
          'The local KMS could not save its state to the data directory.',
          500,
        ),
        { cause: err },
      )
    }
  }

  /** Save the state (coalesced: one write covers every change made before it starts). */
  private persist(): Promise<void> {
    const dataDir = this.options.dataDir
    if (!dataDir) return Promise.resolve()
    if (this.pendingWrite) return this.pendingWrite
    const run = async () => {
      await (this.writing?.catch(() => undefined) ?? Promise.resolve())
      this.pendingWrite = null
      const write = writeFileAtomic(join(dataDir, 'state.json'), serializeState(this.state, this.protection))
      this.writing = write
      try {
        await write
      } finally {
        if (this.writing === write) this.writing = null
      }
    }
    this.pendingWrite = run()
    return this.pendingWrite
  }
}
