import {
  constants,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  sign,
  verify,
} from 'node:crypto'
import { fail, KmsServiceError } from './errors.js'
import { ownValue } from './own.js'
import type { KeyRecord } from './types.js'

/**
 * Asymmetric key operations with node:crypto: RSAES-OAEP encryption (SHA-1 / SHA-256) and RSASSA-PSS,
 * RSASSA-PKCS1-v1_5 and ECDSA signatures over RAW messages. Internal.
 */

const OAEP: Record<string, string> = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' }
const HASH_BYTES: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }

const privateKeys = new WeakMap<Buffer, KeyObject>()

function privateKeyOf(key: KeyRecord): KeyObject {
  const material = key.materials[key.materials.length - 1]!.material
  let k = privateKeys.get(material)
  if (!k) {
    k = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' })
    privateKeys.set(material, k)
  }
  return k
}

/** True for an RSA key whose usage is ENCRYPT_DECRYPT. */
export const isRsaEncryption = (key: KeyRecord): boolean =>
  key.keySpec.startsWith('RSA_') && key.keyUsage === 'ENCRYPT_DECRYPT'

/** DER SubjectPublicKeyInfo of an asymmetric key. */
export function publicKeyDer(key: KeyRecord): Buffer {
  return createPublicKey(privateKeyOf(key)).export({ format: 'der', type: 'spki' })
}

function oaepHash(key: KeyRecord, algorithm: string | undefined): string {
  const hash = algorithm === undefined ? undefined : ownValue(OAEP, algorithm)
  // Precondition: an asymmetric encryption names one of the key's RSAES-OAEP algorithms.
  if (!hash) {
    throw fail.keyUsage(
      `EncryptionAlgorithm ${algorithm ?? 'SYMMETRIC_DEFAULT'} is not valid for ${key.arn}; RSA keys use RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.`,
    )
  }
  return hash
}

/** RSAES-OAEP encrypt; the plaintext limit is modulus − 2·hash − 2 bytes, as in KMS. */
export function rsaEncrypt(key: KeyRecord, algorithm: string | undefined, plaintext: Buffer): Buffer {
  const hash = oaepHash(key, algorithm)
  const max = Number(key.keySpec.slice(4)) / 8 - 2 * (HASH_BYTES[hash] as number) - 2
  // Precondition: the plaintext fits the key and padding.
  if (plaintext.length > max)
    throw fail.validation(`Plaintext exceeds ${max} bytes, the limit of ${key.keySpec} with ${algorithm}.`)
  return publicEncrypt(
    { key: privateKeyOf(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
    plaintext,
  )
}

/** RSAES-OAEP decrypt; any failure is InvalidCiphertextException. */
export function rsaDecrypt(key: KeyRecord, algorithm: string | undefined, ciphertext: Buffer): Buffer {
  const hash = oaepHash(key, algorithm)
  try {
    return privateDecrypt(
      { key: privateKeyOf(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      ciphertext,
    )
  } catch {
    throw fail.invalidCiphertext()
  }
}

interface SigningSpec {
  hash: string
  padding?: number
  saltLength?: number
}

/** The node:crypto parameters of a KMS signing algorithm, if the key supports it. */
function signingSpec(key: KeyRecord, algorithm: string): SigningSpec {
  const m = /^(RSASSA_PSS|RSASSA_PKCS1_V1_5|ECDSA)_SHA_(256|384|512)$/.exec(algorithm)
  const family = m?.[1]
  const hash = `sha${m?.[2]}`
  const rsa = key.keySpec.startsWith('RSA_')
  const ecdsaHash = {
    ECC_NIST_P256: 'sha256',
    ECC_NIST_P384: 'sha384',
    ECC_NIST_P521: 'sha512',
    ECC_SECG_P256K1: 'sha256',
  }[key.keySpec]
  // Precondition: the algorithm is one the key spec supports.
  if (!family || (rsa && family === 'ECDSA') || (!rsa && (family !== 'ECDSA' || hash !== ecdsaHash))) {
    throw fail.keyUsage(`SigningAlgorithm ${algorithm} is not valid for ${key.arn} (KeySpec ${key.keySpec}).`)
  }
  if (family === 'RSASSA_PSS')
    return { hash, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[hash] as number }
  if (family === 'RSASSA_PKCS1_V1_5') return { hash, padding: constants.RSA_PKCS1_PADDING }
  return { hash }
}

function requireRaw(messageType: string | undefined): void {
  // Precondition: RAW messages only (DIGEST signing is not available through node:crypto).
  if (messageType !== undefined && messageType !== 'RAW') {
    throw fail.unsupported(
      `MessageType ${messageType} is not supported by the local KMS; send the RAW message (up to 4096 bytes).`,
    )
  }
}

/** Sign a RAW message. ECDSA signatures are DER-encoded, as KMS returns them. */
export function signMessage(
  key: KeyRecord,
  algorithm: string,
  messageType: string | undefined,
  message: Buffer,
): Buffer {
  requireRaw(messageType)
  const spec = signingSpec(key, algorithm)
  return sign(spec.hash, message, { key: privateKeyOf(key), dsaEncoding: 'der', ...spec })
}

/** Verify a RAW message; an invalid signature is KMSInvalidSignatureException. */
export function verifyMessage(
  key: KeyRecord,
  algorithm: string,
  messageType: string | undefined,
  message: Buffer,
  signature: Buffer,
): void {
  requireRaw(messageType)
  const spec = signingSpec(key, algorithm)
  const ok = verify(
    spec.hash,
    message,
    { key: createPublicKey(privateKeyOf(key)), dsaEncoding: 'der', ...spec },
    signature,
  )
  if (!ok) throw new KmsServiceError('KMSInvalidSignatureException', 'The signature verification failed.')
}
