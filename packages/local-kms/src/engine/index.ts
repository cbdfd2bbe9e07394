/**
 * The local KMS engine: AWS KMS semantics (keys, key states, key policies, grants, aliases, rotation,
 * tags, audit trail, persistence, faults) behind one `call(operation, wireJson, caller)` entry point.
 *
 * @example
 * ```ts
 * import { LocalKmsEngine } from './engine/index.js'
 * const engine = await LocalKmsEngine.open({ dataDir: '.local-kms' })
 * ```
 */

export { type EngineOptions, LocalKmsEngine, type NewAccessKey } from './engine.js'
export { KmsServiceError, LocalKmsError } from './errors.js'
export type { FaultError, FaultRule } from './faults.js'
export { FaultSwitch } from './faults.js'
export type { SeedAccount, SeedAlias, SeedFile, SeedGrant, SeedKey, SeedPrincipal } from './seed.js'
export { validateSeed } from './seed.js'
export type { AuditEvent, CallerIdentity, EncryptionContext, KeyState } from './types.js'
