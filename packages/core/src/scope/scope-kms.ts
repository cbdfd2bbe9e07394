/**
 * The three KMS operations on scope keys, always with the binding encryption context: GenerateDataKey
 * (a new version), Decrypt (unwrap a version) and ReEncrypt (key switch, plaintext never leaves KMS).
 * KMS exceptions become core errors through `mapKmsError`.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  type KeyMetadata,
  type KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms'
import {
  type KmsEnvelopeError,
  TamperedCiphertextError,
  UnexpectedKmsResponseError,
} from '../errors/errors.js'
import type { EncryptionContext } from '../keyring/types.js'
import { assertSecureKmsEndpoint } from '../kms/kms-client.js'
import { mapKmsError } from '../kms/map-kms-error.js'
import { assertUsableKeyMetadata } from '../kms/validate-key.js'

const KEY_BYTES = 32

/** What every KMS call of a hierarchy shares. */
export interface ScopeKmsTarget {
  readonly client: KMSClient
  readonly grantTokens?: readonly string[]
}

function grants(target: ScopeKmsTarget): { GrantTokens?: string[] } {
  return target.grantTokens?.length ? { GrantTokens: [...target.grantTokens] } : {}
}

const secured = new WeakMap<KMSClient, Promise<void>>()

/**
 * Precondition of every KMS call on scope keys: the client's endpoint is HTTPS (plain HTTP only on loopback),
 * checked once per client as `KmsKeyring` does, since GenerateDataKey and Decrypt responses carry plaintext
 * scope keys. A stand-in without an SDK configuration (a `{ send }` wrapper, a test double) names no endpoint.
 */
function secure(client: KMSClient): Promise<void> {
  let check = secured.get(client)
  if (!check) {
    check = assertSecureKmsEndpoint(client)
    secured.set(client, check)
  }
  return check
}

function badResponse(operation: string): KmsEnvelopeError {
  return new UnexpectedKmsResponseError(operation, 'fields are missing')
}

/** A new scope key. The caller owns `plaintext` (zeroize it). */
export async function generateScopeKey(
  target: ScopeKmsTarget,
  rootKeyId: string,
  context: EncryptionContext,
): Promise<{ plaintext: Uint8Array; wrappedKey: Uint8Array; keyArn: string }> {
  let out: { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array; KeyId?: string }
  await secure(target.client)
  try {
    out = await target.client.send(
      new GenerateDataKeyCommand({
        KeyId: rootKeyId,
        KeySpec: 'AES_256',
        EncryptionContext: { ...context },
        ...grants(target),
      }),
    )
  } catch (err) {
    throw mapKmsError(err, { operation: 'GenerateDataKey', keyId: rootKeyId })
  }
  // Postcondition: a 32-byte key, its wrapped copy and the key ARN.
  if (out.Plaintext?.length !== KEY_BYTES || !out.CiphertextBlob?.length || !out.KeyId) {
    out.Plaintext?.fill(0)
    throw badResponse('GenerateDataKey')
  }
  return { plaintext: out.Plaintext, wrappedKey: out.CiphertextBlob, keyArn: out.KeyId }
}

/** A new scope key, wrapped only: the plaintext never leaves KMS (used by rotate()). */
export async function generateWrappedScopeKey(
  target: ScopeKmsTarget,
  rootKeyId: string,
  context: EncryptionContext,
): Promise<{ wrappedKey: Uint8Array; keyArn: string }> {
  let out: { CiphertextBlob?: Uint8Array; KeyId?: string }
  await secure(target.client)
  try {
    out = await target.client.send(
      new GenerateDataKeyWithoutPlaintextCommand({
        KeyId: rootKeyId,
        KeySpec: 'AES_256',
        EncryptionContext: { ...context },
        ...grants(target),
      }),
    )
  } catch (err) {
    throw mapKmsError(err, { operation: 'GenerateDataKeyWithoutPlaintext', keyId: rootKeyId })
  }
  // Postcondition: a wrapped key and the key ARN.
  if (!out.CiphertextBlob?.length || !out.KeyId) throw badResponse('GenerateDataKeyWithoutPlaintext')
  return { wrappedKey: out.CiphertextBlob, keyArn: out.KeyId }
}

/** Unwrap a scope key under exactly `keyArn` with the binding context. The caller owns the result. */
export async function unwrapScopeKey(
  target: ScopeKmsTarget,
  keyArn: string,
  wrappedKey: Uint8Array,
  context: EncryptionContext,
): Promise<Uint8Array> {
  let out: { Plaintext?: Uint8Array; KeyId?: string }
  await secure(target.client)
  try {
    out = await target.client.send(
      new DecryptCommand({
        KeyId: keyArn,
        CiphertextBlob: wrappedKey,
        EncryptionContext: { ...context },
        ...grants(target),
      }),
    )
  } catch (err) {
    throw mapKmsError(err, { operation: 'Decrypt', keyId: keyArn })
  }
  // Postcondition: KMS used the named key and returned 32 bytes.
  if (out.KeyId !== undefined && out.KeyId !== keyArn) {
    out.Plaintext?.fill(0)
    throw new TamperedCiphertextError(`KMS unwrapped the scope key with ${out.KeyId}, not ${keyArn}.`)
  }
  if (out.Plaintext?.length !== KEY_BYTES) {
    out.Plaintext?.fill(0)
    throw new TamperedCiphertextError('The wrapped scope key did not decrypt to 32 bytes.')
  }
  return out.Plaintext
}

/** Re-wrap a scope key under `destinationKeyId` inside KMS (ReEncrypt), keeping the binding context. */
export async function rewrapScopeKey(
  target: ScopeKmsTarget,
  sourceKeyArn: string,
  destinationKeyId: string,
  wrappedKey: Uint8Array,
  context: EncryptionContext,
): Promise<{ wrappedKey: Uint8Array; keyArn: string }> {
  let out: { CiphertextBlob?: Uint8Array; KeyId?: string }
  await secure(target.client)
  try {
    out = await target.client.send(
      new ReEncryptCommand({
        CiphertextBlob: wrappedKey,
        SourceKeyId: sourceKeyArn,
        SourceEncryptionContext: { ...context },
        DestinationKeyId: destinationKeyId,
        DestinationEncryptionContext: { ...context },
        ...grants(target),
      }),
    )
  } catch (err) {
    throw mapKmsError(err, { operation: 'ReEncrypt', keyId: destinationKeyId })
  }
  // Postcondition: a new blob and the destination key ARN.
  if (!out.CiphertextBlob?.length || !out.KeyId) throw badResponse('ReEncrypt')
  return { wrappedKey: out.CiphertextBlob, keyArn: out.KeyId }
}

/**
 * The ARN of a key given as key id, ARN or alias; refuses keys that cannot wrap scope keys, and (with
 * `requireEnabled`, for a key switch target) keys that are not Enabled.
 */
export async function resolveRootKey(
  target: ScopeKmsTarget,
  keyId: string,
  requireEnabled = true,
): Promise<string> {
  let meta: KeyMetadata | undefined
  await secure(target.client)
  try {
    meta = (await target.client.send(new DescribeKeyCommand({ KeyId: keyId, ...grants(target) }))).KeyMetadata
  } catch (err) {
    throw mapKmsError(err, { operation: 'DescribeKey', keyId })
  }
  // Postcondition: an enabled symmetric ENCRYPT_DECRYPT key with an ARN.
  if (!meta?.Arn) throw badResponse('DescribeKey')
  return assertUsableKeyMetadata({ ...meta, Arn: meta.Arn }, requireEnabled)
}
