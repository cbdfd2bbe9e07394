import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { fail } from './errors.js'
import { ownValue } from './own.js'
import { defaultPolicy, parsePolicy } from './policy.js'
import type { EngineState } from './state.js'
import type { KeyRecord, KeyState } from './types.js'
import { toWireTime } from './wire.js'

/** Key specs the engine creates, with the key usages each allows. */
export const KEY_SPECS: Record<string, string[]> = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY'],
  ECC_NIST_P384: ['SIGN_VERIFY'],
  ECC_NIST_P521: ['SIGN_VERIFY'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'],
}

const CURVES: Record<string, string> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
}

/** Fresh backing material for a key spec: 32 random bytes, or a PKCS#8 DER private key. */
export function newMaterial(keySpec: string): Buffer {
  if (keySpec === 'SYMMETRIC_DEFAULT') return randomBytes(32)
  if (keySpec.startsWith('RSA_')) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: Number(keySpec.slice(4)) })
    return privateKey.export({ format: 'der', type: 'pkcs8' })
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: ownValue(CURVES, keySpec) as string })
  return privateKey.export({ format: 'der', type: 'pkcs8' })
}

/** Parameters to create a key record. */
export interface NewKeyParams {
  accountId: string
  keyId?: string
  keySpec?: string
  keyUsage?: string
  description?: string
  policy?: string
  keyState?: KeyState
  tags?: { TagKey: string; TagValue: string }[]
  material?: Buffer
}

/** Validate parameters and build a key record (not yet stored). Throws KMS errors. */
export function newKeyRecord(state: EngineState, params: NewKeyParams, now: number): KeyRecord {
  const keySpec = params.keySpec ?? 'SYMMETRIC_DEFAULT'
  const usages = ownValue(KEY_SPECS, keySpec)
  // Precondition: a key spec the engine supports.
  if (!usages) throw fail.unsupported(`KeySpec ${keySpec} is not supported by the local KMS.`)
  const keyUsage = params.keyUsage ?? usages[0]!
  // Precondition: the key usage is valid for the spec.
  if (!usages.includes(keyUsage))
    throw fail.validation(`KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}.`)
  const policy = params.policy ?? defaultPolicy(params.accountId)
  parsePolicy(policy)
  const keyId = params.keyId ?? randomUUID()
  // Precondition: the material, when given, is a 256-bit AES key for a symmetric key.
  if (params.material && (keySpec !== 'SYMMETRIC_DEFAULT' || params.material.length !== 32)) {
    throw fail.validation('Fixed key material must be 32 bytes, for SYMMETRIC_DEFAULT keys only.')
  }
  return {
    keyId,
    accountId: params.accountId,
    arn: state.keyArn(params.accountId, keyId),
    creationDate: now,
    description: params.description ?? '',
    keySpec,
    keyUsage,
    keyState: params.keyState ?? 'Enabled',
    policy,
    rotationEnabled: false,
    rotations: [],
    materials: [{ version: 1, createdAt: now, material: params.material ?? newMaterial(keySpec) }],
    tags: params.tags ?? [],
  }
}

/** The wire KeyMetadata of a key. */
export function keyMetadata(key: KeyRecord): Record<string, unknown> {
  const md: Record<string, unknown> = {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: toWireTime(key.creationDate),
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    MultiRegion: false,
  }
  if (key.deletionDate !== undefined) {
    md.DeletionDate = toWireTime(key.deletionDate)
    md.PendingDeletionWindowInDays = key.pendingWindowInDays
  }
  if (key.keyUsage === 'ENCRYPT_DECRYPT') {
    md.EncryptionAlgorithms =
      key.keySpec === 'SYMMETRIC_DEFAULT' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']
  } else if (key.keySpec.startsWith('RSA_')) {
    md.SigningAlgorithms = [
      'RSASSA_PSS_SHA_256',
      'RSASSA_PSS_SHA_384',
      'RSASSA_PSS_SHA_512',
      'RSASSA_PKCS1_V1_5_SHA_256',
      'RSASSA_PKCS1_V1_5_SHA_384',
      'RSASSA_PKCS1_V1_5_SHA_512',
    ]
  } else {
    md.SigningAlgorithms = [
      { ECC_NIST_P256: 'ECDSA_SHA_256', ECC_NIST_P384: 'ECDSA_SHA_384', ECC_NIST_P521: 'ECDSA_SHA_512' }[
        key.keySpec
      ] ?? 'ECDSA_SHA_256',
    ]
  }
  return md
}
