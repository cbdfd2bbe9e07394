import type {
  NodeDecryptionMaterial,
  NodeDecryptionRequest,
  NodeEncryptionMaterial,
  NodeMaterialsManager,
} from '@aws-crypto/client-node'
import {
  assertExpectedContext,
  ConfigurationError,
  type EncryptionContext,
  InvalidKeyError,
  tryParseKmsArn,
} from '@kms-envelope/core'

/**
 * Prefix of the context keys the ESDK reserves for itself (`aws-crypto-public-key` of signed suites).
 *
 * @example
 * ```ts
 * const mine = Object.keys(context).filter((k) => !k.startsWith(ESDK_RESERVED_PREFIX))
 * ```
 */
export const ESDK_RESERVED_PREFIX = 'aws-crypto-'

/** @internal Which wrapped data keys a reader may ask KMS to decrypt. */
export type KeyPolicy =
  | { readonly mode: 'strict'; readonly keyIds: ReadonlySet<string> }
  | { readonly mode: 'discovery'; readonly accounts: ReadonlySet<string>; readonly partition: string }

/** @internal Split an ESDK context into the caller's pairs and the ESDK-reserved ones. */
export function splitContext(context: Readonly<Record<string, string>>): {
  context: EncryptionContext
  reserved: EncryptionContext
} {
  const mine: Record<string, string> = Object.create(null)
  const reserved: Record<string, string> = Object.create(null)
  for (const [k, v] of Object.entries(context)) {
    if (k.startsWith(ESDK_RESERVED_PREFIX)) reserved[k] = v
    else mine[k] = v
  }
  return { context: mine, reserved }
}

/** @internal Is this ESDK wrapped key one the policy lets us send to KMS? */
export function allowedEdk(policy: KeyPolicy, providerId: string, providerInfo: string): boolean {
  if (providerId !== 'aws-kms') return false
  if (policy.mode === 'strict') return policy.keyIds.has(providerInfo)
  const arn = tryParseKmsArn(providerInfo)
  return (
    arn !== undefined &&
    arn.resourceType === 'key' &&
    arn.partition === policy.partition &&
    policy.accounts.has(arn.accountId)
  )
}

/**
 * @internal A reader never encrypts: what its materials managers and cache answer to a request for encryption
 * (or branch key) materials.
 */
export function refuseEncryption(): never {
  throw new ConfigurationError(
    'EsdkReader only decrypts.',
    'Encrypt ESDK messages with EsdkWriter, kms-envelope messages with Envelope.',
  )
}

/**
 * @internal The ESDK materials manager of one reader operation. It sits in front of the backing manager (the
 * ESDK's caching manager, or its default one when the reader does not cache) and, for every message, before
 * any KMS call and before any cached data key is handed out, checks the expected context (ignoring
 * ESDK-reserved keys) and that some wrapped data key is allowed by the reader's key policy. `materialsReady`
 * tells the error mapper how far it got; `release()` zeroizes the materials it handed to the ESDK.
 */
export class GuardedMaterialsManager implements NodeMaterialsManager {
  materialsReady = false
  #material: NodeDecryptionMaterial | undefined

  /**
   * @param backing where data keys come from once the checks passed.
   * @param onMaterials called once the backing manager produced a data key.
   */
  constructor(
    private readonly backing: NodeMaterialsManager,
    private readonly policy: KeyPolicy,
    private readonly expected: EncryptionContext | undefined,
    private readonly onMaterials?: () => void,
  ) {}

  async getEncryptionMaterials(): Promise<NodeEncryptionMaterial> {
    refuseEncryption()
  }

  async decryptMaterials(request: NodeDecryptionRequest): Promise<NodeDecryptionMaterial> {
    // Precondition: the expected pairs are in the header's context, before any KMS call or cache lookup.
    assertExpectedContext(splitContext(request.encryptionContext).context, this.expected)
    // Precondition: at least one wrapped data key is allowed (strict ARNs or discovery accounts).
    const edks = request.encryptedDataKeys
    if (!edks.some((e) => allowedEdk(this.policy, e.providerId, e.providerInfo))) {
      const ids = edks.map((e) =>
        e.providerId === 'aws-kms' ? e.providerInfo : `${e.providerId}:${e.providerInfo}`,
      )
      const allowList =
        this.policy.mode === 'strict'
          ? [...this.policy.keyIds].join(', ')
          : `keys of accounts ${[...this.policy.accounts].join(', ')} in partition ${this.policy.partition}`
      throw new InvalidKeyError(
        edks.find((e) => e.providerId === 'aws-kms')?.providerInfo,
        'NOT_ALLOWED',
        `the ESDK message is wrapped under [${ids.join(', ')}], and this reader (${this.policy.mode}) allows only ${allowList}`,
        this.policy.mode === 'strict'
          ? 'Add the key ARN to keyIds if you trust it; messages wrapped by raw AES/RSA keyrings cannot be read here.'
          : 'Add the owning account to discovery.accounts if you trust it; messages wrapped by raw AES/RSA keyrings cannot be read here.',
      )
    }
    const material = await this.backing.decryptMaterials(request)
    this.#material = material
    // Postcondition: the backing manager produced a data key.
    this.materialsReady = material.hasValidKey()
    if (this.materialsReady) this.onMaterials?.()
    return material
  }

  /**
   * Zeroize the materials handed to the ESDK (idempotent; the ESDK does it itself after a complete message,
   * not when the header fails authentication). Cached entries are separate copies and stay cached.
   */
  release(): void {
    this.#material?.zeroUnencryptedDataKey()
  }
}
