/**
 * The local KMS engine: AWS KMS semantics behind one `call(operation, wireJson, caller)` entry point.
 *
 * Implemented operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
 * CancelKeyDeletion, UpdateKeyDescription, GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, CreateAlias,
 * UpdateAlias, DeleteAlias, ListAliases, EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
 * RotateKeyOnDemand, ListKeyRotations, TagResource, UntagResource, ListResourceTags, Encrypt, Decrypt,
 * ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom, CreateGrant, ListGrants,
 * ListRetirableGrants, RetireGrant, RevokeGrant, GetPublicKey, Sign, Verify.
 *
 * Where it differs from AWS KMS (documented simplifications):
 * - IAM identity policies are modelled (seed `policies`, `engine.putPrincipalPolicy`), but a principal
 *   without any keeps an implicit allow-all identity policy (backward compatibility), and there are no
 *   SCPs, permission boundaries or session policies.
 * - Grants are effective at once (no eventual consistency); grant tokens are validated but not needed.
 * - Aliases and alias ARNs are accepted for every KeyId (AWS refuses them for some management calls);
 *   cross-account use works by key ARN or alias ARN and only for the operations AWS allows cross-account.
 * - The ciphertext blob is the engine's own format (AES-256-GCM under the key's backing material,
 *   binding key ARN, material version and canonical encryption context); AWS blobs are not accepted.
 * - Not supported: imported key material, custom key stores, multi-Region keys, HMAC and SM2 keys,
 *   GenerateDataKeyPair, DIGEST signing, Nitro Enclaves `Recipient`, ReEncrypt with RSA keys,
 *   the key-policy lockout safety check.
 * - Deletion and automatic rotation happen lazily, when a call touches the key after its date.
 *
 * @example
 * ```ts
 * import { LocalKmsEngine } from '@kms-envelope/local-kms'
 * const engine = await LocalKmsEngine.open({ dataDir: '.local-kms' })
 * const { caller } = engine.resolveAccessKey('test')!
 * await engine.call('CreateKey', { Description: 'demo' }, caller)
 * await engine.close()
 * ```
 */
export { type EngineOptions, LocalKmsEngine, type NewAccessKey } from './engine.js'
export { KmsServiceError, LocalKmsError } from './errors.js'
export type { FaultError, FaultRule } from './faults.js'
export { FaultSwitch } from './faults.js'
export type {
  SeedAccount,
  SeedAlias,
  SeedFile,
  SeedGrant,
  SeedIdentityPolicy,
  SeedKey,
  SeedPrincipal,
} from './seed.js'
export { validateSeed } from './seed.js'
export type { AuditEvent, CallerIdentity, EncryptionContext, KeyState } from './types.js'
