/**
 * Message overhead: bytes added to a 1 KiB plaintext with one KMS-wrapped data key (184-byte blob from the
 * fake KMS, a real-length key ARN) and a two-pair encryption context. Ours vs the ESDK non-signing suite vs
 * the ESDK default suite, both ESDK figures through the ESDK's own KmsKeyringNode over the same fake.
 */
import { randomBytes } from 'node:crypto'
import { inspect } from '@kms-envelope/core'
import { FakeKms } from '../harness/fake-kms.js'
import { esdkCached, esdkDefault, esdkKmsKeyring } from '../subjects/esdk.js'
import { ourEnvelope } from '../subjects/ours.js'

/** Overhead in bytes (ciphertext length minus plaintext length). */
export interface OverheadResult {
  readonly plaintextBytes: number
  readonly ours: number
  /** Of `ours`: the wrapped data key (KMS blob) and the key ARN, carried verbatim in the header. */
  readonly oursBlobBytes: number
  readonly oursKeyIdBytes: number
  readonly esdkNonSigning: number
  readonly esdkDefault: number
}

/**
 * Measure the overhead.
 *
 * @example
 * ```ts
 * const o = await benchOverhead({ tenant: 'acme', purpose: 'demo' })
 * ```
 */
export async function benchOverhead(context: Record<string, string>, size = 1024): Promise<OverheadResult> {
  const payload = randomBytes(size)
  const kms = new FakeKms()
  const ours = await ourEnvelope(kms, false).encrypt(payload, { context })
  const nonSigning = await esdkCached(esdkKmsKeyring(kms), context).encrypt(payload)
  const signed = await esdkDefault(esdkKmsKeyring(kms), context).encrypt(payload)
  const edks = inspect(ours).encryptedDataKeys
  return {
    plaintextBytes: size,
    ours: ours.length - size,
    oursBlobBytes: edks.reduce((n, k) => n + k.blobLength, 0),
    oursKeyIdBytes: edks.reduce((n, k) => n + Buffer.byteLength(k.keyId), 0),
    esdkNonSigning: nonSigning.length - size,
    esdkDefault: signed.length - size,
  }
}
