/**
 * Our envelope, as a user would set it up: `new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId }) })`,
 * with the counting fake KMS as the client.
 */
import type { KMSClient } from '@aws-sdk/client-kms'
import { type CacheLimits, Envelope, KmsKeyring } from '@kms-envelope/core'
import { BENCH_KEY_ARN, type FakeKms } from '../harness/fake-kms.js'

/**
 * An Envelope over a KmsKeyring whose client is `kms`.
 *
 * @example
 * ```ts
 * const kms = new FakeKms()
 * const envelope = ourEnvelope(kms, { maxMessagesPerKey: 1000 })
 * ```
 */
export function ourEnvelope(kms: FakeKms, cache?: Partial<CacheLimits> | false): Envelope {
  const keyring = new KmsKeyring({ client: kms as unknown as KMSClient, generatorKeyId: BENCH_KEY_ARN })
  return new Envelope({ keyring, cache })
}
