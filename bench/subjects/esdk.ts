/**
 * The AWS Encryption SDK for JavaScript (`@aws-crypto/client-node` 5.x), set up the way its docs suggest:
 * - `default`: a keyring, its default suite (committing, ECDSA P-384 signed), no cache;
 * - `cached`: the committing non-signing suite (AES_256_GCM_HKDF_SHA512_COMMIT_KEY) behind a caching
 *   materials manager (NodeCachingMaterialsManager + getLocalCryptographicMaterialsCache).
 */
import { randomBytes } from 'node:crypto'
import type { Duplex } from 'node:stream'
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  type KeyringNode,
  KmsKeyringNode,
  NodeCachingMaterialsManager,
  type NodeMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node'
import type { KMS } from '@aws-sdk/client-kms'
import { BENCH_KEY_ARN, type FakeKms } from '../harness/fake-kms.js'

/** The ESDK's committing suite without signatures. */
export const ESDK_COMMIT_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY

const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

/** Encrypt/decrypt of whole messages through one ESDK configuration. */
export interface EsdkSubject {
  encrypt(plaintext: Uint8Array): Promise<Buffer>
  decrypt(message: Uint8Array): Promise<Buffer>
}

/**
 * A RawAesKeyringNode over a random 256-bit wrapping key.
 *
 * @example
 * ```ts
 * const keyring = rawAesKeyring()
 * ```
 */
export function rawAesKeyring(): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: 'bench',
    keyName: 'wrapping-key',
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  })
}

/**
 * The ESDK's own KMS keyring over a fake KMS (its `KMS` aggregated-client shape).
 *
 * @example
 * ```ts
 * const keyring = esdkKmsKeyring(new FakeKms())
 * ```
 */
export function esdkKmsKeyring(kms: FakeKms): KmsKeyringNode {
  return new KmsKeyringNode({ generatorKeyId: BENCH_KEY_ARN, clientProvider: () => kms as unknown as KMS })
}

/**
 * A caching materials manager (committing non-signing suite is chosen per call, see {@link esdkCached}).
 *
 * @example
 * ```ts
 * const cmm = cachingCmm(rawAesKeyring(), { maxMessagesEncrypted: 1000 })
 * ```
 */
export function cachingCmm(
  keyring: KeyringNode,
  limits: { maxMessagesEncrypted?: number; maxAge?: number; capacity?: number } = {},
): NodeCachingMaterialsManager {
  return new NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: getLocalCryptographicMaterialsCache(limits.capacity ?? 1000),
    maxAge: limits.maxAge ?? 300_000,
    maxMessagesEncrypted: limits.maxMessagesEncrypted,
  })
}

function subject(
  cmm: KeyringNode | NodeMaterialsManager,
  context: Record<string, string>,
  suiteId?: AlgorithmSuiteIdentifier,
): EsdkSubject {
  return {
    encrypt: async (plaintext) =>
      (await client.encrypt(cmm, plaintext, { encryptionContext: context, suiteId })).result,
    decrypt: async (message) => (await client.decrypt(cmm, message)).plaintext,
  }
}

/**
 * The ESDK with its default (signed) suite and no cache.
 *
 * @example
 * ```ts
 * const ct = await esdkDefault(rawAesKeyring(), { tenant: 'acme' }).encrypt(data)
 * ```
 */
export function esdkDefault(keyring: KeyringNode, context: Record<string, string>): EsdkSubject {
  return subject(keyring, context)
}

/**
 * The ESDK with the committing non-signing suite and a caching materials manager.
 *
 * @example
 * ```ts
 * const ct = await esdkCached(rawAesKeyring(), { tenant: 'acme' }).encrypt(data)
 * ```
 */
export function esdkCached(
  keyring: KeyringNode,
  context: Record<string, string>,
  limits?: { maxMessagesEncrypted?: number },
): EsdkSubject {
  return subject(cachingCmm(keyring, limits), context, ESDK_COMMIT_SUITE)
}

/**
 * ESDK encrypt stream with the committing non-signing suite (the ESDK's default 4 KiB frames unless given).
 *
 * @example
 * ```ts
 * await pipeline(source, esdkEncryptStream(keyring, ctx), sink)
 * ```
 */
export function esdkEncryptStream(
  keyring: KeyringNode,
  context: Record<string, string>,
  frameLength?: number,
): Duplex {
  return client.encryptStream(keyring, {
    encryptionContext: context,
    suiteId: ESDK_COMMIT_SUITE,
    frameLength,
  })
}

/**
 * ESDK decrypt stream.
 *
 * @example
 * ```ts
 * await pipeline(Readable.from(chunks), esdkDecryptStream(keyring), sink)
 * ```
 */
export function esdkDecryptStream(keyring: KeyringNode): Duplex {
  return client.decryptStream(keyring)
}
