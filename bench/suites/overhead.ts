/**
 * Message overhead: bytes added to a 1 KiB plaintext with one KMS-wrapped data key (184-byte blob from the
 * fake KMS, a real-length key ARN) and a two-pair encryption context. Ours (default and compact) vs the ESDK
 * non-signing suite vs the ESDK default suite, both ESDK figures through the ESDK's own KmsKeyringNode over
 * the same fake.
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
  /** A compact message (docs/FORMAT.md 3.1): context and key ARN authenticated but not stored. */
  readonly oursCompact: number
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
  const envelope = ourEnvelope(kms, false)
  const ours = await envelope.encrypt(payload, { context })
  const compact = await envelope.encrypt(payload, { context, compact: true })
  // Postcondition: the compact message is a real one (it decrypts with the context given back).
  const back = await envelope.decrypt(compact, { context })
  if (!Buffer.from(back.plaintext).equals(payload)) throw new Error('compact round trip failed')
  const nonSigning = await esdkCached(esdkKmsKeyring(kms), context).encrypt(payload)
  const signed = await esdkDefault(esdkKmsKeyring(kms), context).encrypt(payload)
  const edks = inspect(ours).encryptedDataKeys
  return {
    plaintextBytes: size,
    ours: ours.length - size,
    oursBlobBytes: edks.reduce((n, k) => n + k.blobLength, 0),
    oursKeyIdBytes: edks.reduce((n, k) => n + Buffer.byteLength(k.keyId), 0),
    oursCompact: compact.length - size,
    esdkNonSigning: nonSigning.length - size,
    esdkDefault: signed.length - size,
  }
}
