import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { ConfigurationError, type KmsEnvelopeError, mapKmsError } from '@kms-envelope/core'

/** The three KMS methods the ESDK's KMS keyring calls (its `AwsEsdkKMSInterface`, SDK v3 style). */
export interface EsdkKmsClient {
  decrypt(input: {
    KeyId?: string
    CiphertextBlob: Uint8Array
    EncryptionContext?: Record<string, string>
    GrantTokens?: string[]
  }): Promise<{ KeyId?: string; Plaintext?: Uint8Array }>
  encrypt(input: {
    KeyId: string
    Plaintext: Uint8Array
    EncryptionContext?: Record<string, string>
    GrantTokens?: string[]
  }): Promise<{ KeyId?: string; CiphertextBlob?: Uint8Array }>
  generateDataKey(input: {
    KeyId: string
    NumberOfBytes?: number
    EncryptionContext?: Record<string, string>
    GrantTokens?: string[]
  }): Promise<{ KeyId?: string; CiphertextBlob?: Uint8Array; Plaintext?: Uint8Array }>
}

/**
 * @internal The region → client lookup of a reader or writer: `clientForRegion`, else the one `client`.
 * `owner` names the class in the error when neither is given.
 */
export function clientLookup(
  owner: string,
  options: {
    readonly client?: KMSClient | undefined
    readonly clientForRegion?: ((region: string) => KMSClient | undefined) | undefined
  },
): (region: string) => KMSClient | undefined {
  const { client, clientForRegion } = options
  // Precondition: a KMS client.
  if (!client && !clientForRegion) {
    throw new ConfigurationError(
      `${owner} needs a KMS client.`,
      'Pass client (a KMSClient) or clientForRegion.',
    )
  }
  return clientForRegion ?? (() => client)
}

/**
 * KMS calls made for one ESDK operation, by operation name.
 *
 * @example
 * ```ts
 * const { kmsCalls } = await reader.decrypt(message) // { decrypt: 1, encrypt: 0, generateDataKey: 0 }
 * ```
 */
export interface EsdkKmsCalls {
  decrypt: number
  encrypt: number
  generateDataKey: number
}

/**
 * @internal A per-operation bridge from a caller's `KMSClient` to the interface the ESDK's keyring calls.
 * The ESDK's keyring swallows KMS exceptions into one message string; this log keeps the first one, mapped
 * to core's typed error with the original as `cause`, so the reader can report it precisely.
 */
export class KmsCallLog {
  readonly calls: EsdkKmsCalls = { decrypt: 0, encrypt: 0, generateDataKey: 0 }
  firstError: KmsEnvelopeError | undefined
  /** Regions of wrapped keys for which no client was available (so KMS was never asked). */
  readonly missingRegions = new Set<string>()

  /**
   * @param totals counters of the owner (e.g. a reader's `stats()`), incremented along with this log's own.
   */
  constructor(
    private readonly clientFor: (region: string) => KMSClient | undefined,
    private readonly principal?: string,
    private readonly totals?: EsdkKmsCalls,
  ) {}

  /** The ESDK `clientProvider`: a bridge for the region of the key, or `false` if there is no client. */
  readonly provider = (region: string): EsdkKmsClient | false => {
    const client = this.clientFor(region)
    if (!client) this.missingRegions.add(region)
    return client ? this.#bridge(client) : false
  }

  #bridge(client: KMSClient): EsdkKmsClient {
    const run = async <T>(
      operation: string,
      keyId: string | undefined,
      send: () => Promise<T>,
    ): Promise<T> => {
      try {
        return await send()
      } catch (err) {
        const mapped = mapKmsError(err, { operation, keyId, principal: this.principal })
        this.firstError ??= mapped
        throw mapped
      }
    }
    return {
      decrypt: (input) => {
        this.calls.decrypt++
        if (this.totals) this.totals.decrypt++
        return run('Decrypt', input.KeyId, () => client.send(new DecryptCommand(input)))
      },
      encrypt: (input) => {
        this.calls.encrypt++
        if (this.totals) this.totals.encrypt++
        return run('Encrypt', input.KeyId, () => client.send(new EncryptCommand(input)))
      },
      generateDataKey: (input) => {
        this.calls.generateDataKey++
        if (this.totals) this.totals.generateDataKey++
        return run('GenerateDataKey', input.KeyId, () => client.send(new GenerateDataKeyCommand(input)))
      },
    }
  }
}
