import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  KMS,
  KmsKeyringNode,
  NodeCachingMaterialsManager,
} from '@aws-crypto/client-node'
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { LocalKms } from '@kms-envelope/local-kms'

export const SIGNED = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
export const COMMIT = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY
export const LEGACY_SIGNED = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
export const LEGACY = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256

/**
 * The ESDK's own aggregated `KMS` client, wired to the local KMS through the same in-process request
 * handler and credentials as `kms.client()` — exactly what an ESDK application builds.
 */
export function esdkKmsFor(kms: LocalKms, client: KMSClient): KMS {
  return new KMS({
    region: kms.region,
    endpoint: 'http://127.0.0.1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: client.config.requestHandler,
  })
}

export interface World {
  kms: LocalKms
  client: KMSClient
  keyA: string
  keyB: string
  /** Encrypt with the ESDK itself (as an existing application does), under keyA unless told. */
  esdkEncrypt(
    plaintext: Uint8Array,
    opts: {
      suiteId?: AlgorithmSuiteIdentifier
      frameLength?: number
      context?: Record<string, string>
      keyId?: string
      extraKeys?: string[]
    },
  ): Promise<Uint8Array>
  /**
   * Encrypt several plaintexts the way an ESDK application with a caching CMM does (the ESDK's own
   * `NodeCachingMaterialsManager` over its local cache): they share one data key per suite and context.
   * Returns the messages and the GenerateDataKey calls the writer made.
   */
  esdkEncryptCached(
    plaintexts: Uint8Array[],
    opts: { suiteId?: AlgorithmSuiteIdentifier; context?: Record<string, string>; keyId?: string },
  ): Promise<{ messages: Uint8Array[]; generateDataKeyCalls: number }>
}

export async function world(): Promise<World> {
  const kms = await LocalKms.create()
  const client = kms.client({ maxAttempts: 1 })
  const keyA = (await client.send(new CreateKeyCommand({ Description: 'esdk A' }))).KeyMetadata!.Arn!
  const keyB = (await client.send(new CreateKeyCommand({ Description: 'esdk B' }))).KeyMetadata!.Arn!
  const aggregated = esdkKmsFor(kms, client)
  const esdk2 = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
  const esdk1 = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
  return {
    kms,
    client,
    keyA,
    keyB,
    async esdkEncrypt(plaintext, opts) {
      const suiteId = opts.suiteId ?? SIGNED
      const committing = suiteId === SIGNED || suiteId === COMMIT
      const keyring = new KmsKeyringNode({
        generatorKeyId: opts.keyId ?? keyA,
        ...(opts.extraKeys ? { keyIds: opts.extraKeys } : {}),
        clientProvider: () => aggregated,
      })
      const { result } = await (committing ? esdk2 : esdk1).encrypt(keyring, plaintext, {
        suiteId,
        encryptionContext: opts.context ?? {},
        ...(opts.frameLength !== undefined ? { frameLength: opts.frameLength } : {}),
      })
      return new Uint8Array(result)
    },
    async esdkEncryptCached(plaintexts, opts) {
      const suiteId = opts.suiteId ?? SIGNED
      const committing = suiteId === SIGNED || suiteId === COMMIT
      const writerKms = esdkKmsFor(kms, client)
      const calls = countCalls(writerKms)
      const cmm = new NodeCachingMaterialsManager({
        backingMaterials: new KmsKeyringNode({
          generatorKeyId: opts.keyId ?? keyA,
          clientProvider: () => writerKms,
        }),
        cache: getLocalCryptographicMaterialsCache(10),
        maxAge: 60_000,
        maxMessagesEncrypted: 1_000_000,
      })
      const messages: Uint8Array[] = []
      for (const plaintext of plaintexts) {
        const { result } = await (committing ? esdk2 : esdk1).encrypt(cmm, plaintext, {
          suiteId,
          encryptionContext: opts.context ?? {},
        })
        messages.push(new Uint8Array(result))
      }
      return {
        messages,
        generateDataKeyCalls: calls.names.filter((n) => n === 'GenerateDataKeyCommand').length,
      }
    },
  }
}

/** Counts the requests a KMSClient actually sends (independent of the code under test). */
export function countCalls(client: KMSClient): { readonly names: string[] } {
  const names: string[] = []
  client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(String(context.commandName))
      return next(args)
    },
    { step: 'initialize', name: `count-${Math.random()}` },
  )
  return { names }
}

/** Collect a stream's output, and its error if it fails (the bytes it released before failing stay visible). */
export async function drain(
  stream: NodeJS.ReadWriteStream & import('node:stream').Duplex,
  input: Uint8Array,
  chunk = 97,
): Promise<{ out: Buffer; error: unknown }> {
  const parts: Buffer[] = []
  const { Readable } = await import('node:stream')
  const { pipeline } = await import('node:stream/promises')
  const pieces: Buffer[] = []
  for (let i = 0; i < input.length; i += chunk) pieces.push(Buffer.from(input.subarray(i, i + chunk)))
  try {
    await pipeline(Readable.from(pieces), stream, async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) parts.push(c)
    })
    return { out: Buffer.concat(parts), error: undefined }
  } catch (error) {
    return { out: Buffer.concat(parts), error }
  }
}
