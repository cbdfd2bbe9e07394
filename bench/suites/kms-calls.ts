/**
 * KMS call counts from the counting fake: N sequential encrypts with a per-key message limit, and M
 * concurrent encrypts on a cold cache (single-flight). Ours vs the ESDK's caching CMM over its own
 * KmsKeyringNode (same fake client, so the same counter).
 */
import { randomBytes } from 'node:crypto'
import { FakeKms } from '../harness/fake-kms.js'
import { esdkCached, esdkKmsKeyring } from '../subjects/esdk.js'
import { ourEnvelope } from '../subjects/ours.js'

/** GenerateDataKey calls made in each scenario. */
export interface KmsCallsResult {
  readonly sequential: {
    readonly messages: number
    readonly maxPerKey: number
    readonly ours: number
    readonly esdk?: number
  }
  readonly concurrent: { readonly messages: number; readonly ours: number; readonly esdk?: number }
}

/** Options of {@link benchKmsCalls}. */
export interface KmsCallsOptions {
  readonly messages: number
  readonly maxPerKey: number
  readonly concurrent: number
  readonly context: Record<string, string>
  /** Also count the ESDK's calls (slow: ~1 ms per ESDK encrypt). Default true. */
  readonly includeEsdk?: boolean
  /** Plaintext size of each message. Default 256. */
  readonly size?: number
}

/**
 * Count GenerateDataKey calls.
 *
 * @example
 * ```ts
 * const r = await benchKmsCalls({ messages: 10_000, maxPerKey: 1000, concurrent: 1000, context })
 * r.sequential.ours // 10
 * ```
 */
export async function benchKmsCalls(options: KmsCallsOptions): Promise<KmsCallsResult> {
  const { messages, maxPerKey, concurrent, context } = options
  const payload = randomBytes(options.size ?? 256)
  const esdkToo = options.includeEsdk ?? true

  const sequential = async (encrypt: () => Promise<unknown>, kms: FakeKms) => {
    for (let i = 0; i < messages; i++) await encrypt()
    return kms.calls.generateDataKey
  }
  const parallel = async (encrypt: () => Promise<unknown>, kms: FakeKms) => {
    await Promise.all(Array.from({ length: concurrent }, encrypt))
    return kms.calls.generateDataKey
  }

  const k1 = new FakeKms()
  const ours1 = ourEnvelope(k1, { maxMessagesPerKey: maxPerKey })
  const k2 = new FakeKms()
  const esdk1 = esdkCached(esdkKmsKeyring(k2), context, { maxMessagesEncrypted: maxPerKey })
  const k3 = new FakeKms()
  const ours2 = ourEnvelope(k3)
  const k4 = new FakeKms()
  const esdk2 = esdkCached(esdkKmsKeyring(k4), context)

  return {
    sequential: {
      messages,
      maxPerKey,
      ours: await sequential(() => ours1.encrypt(payload, { context }), k1),
      esdk: esdkToo ? await sequential(() => esdk1.encrypt(payload), k2) : undefined,
    },
    concurrent: {
      messages: concurrent,
      ours: await parallel(() => ours2.encrypt(payload, { context }), k3),
      esdk: esdkToo ? await parallel(() => esdk2.encrypt(payload), k4) : undefined,
    },
  }
}
