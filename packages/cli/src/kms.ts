/** How the CLI reaches KMS: region and endpoint from flags or the environment, the endpoint check of core. */
import type { KMSClient } from '@aws-sdk/client-kms'
import { ConfigurationError, createKmsClient, tryParseKmsArn } from '@kms-envelope/core'

/**
 * Where and how to reach KMS.
 *
 * @example
 * ```ts
 * import type { KmsSettings } from '@kms-envelope/cli'
 * const settings: KmsSettings = { region: 'eu-west-1', endpoint: 'https://kms-fips.eu-west-1.amazonaws.com', env: process.env }
 * ```
 */
export interface KmsSettings {
  /** `--region`, else AWS_REGION / AWS_DEFAULT_REGION, else the Region of the first key ARN. */
  readonly region?: string | undefined
  /** `--endpoint`: https://…, or http:// on loopback only (core's check). */
  readonly endpoint?: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
}

/** Credentials from the environment when both keys are set; otherwise undefined (the SDK's default chain). */
function envCredentials(env: KmsSettings['env']) {
  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (!accessKeyId || !secretAccessKey) return undefined
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  }
}

/**
 * The Region to use: the flag, the environment, or the Region named by one of `keyIds` (ARNs).
 *
 * @example
 * ```ts
 * import { resolveRegion } from '@kms-envelope/cli'
 * resolveRegion({ env: {} }, ['arn:aws:kms:eu-west-1:111122223333:key/…']) // 'eu-west-1'
 * ```
 */
export function resolveRegion(settings: KmsSettings, keyIds: readonly string[] = []): string {
  const region =
    settings.region ??
    settings.env.AWS_REGION ??
    settings.env.AWS_DEFAULT_REGION ??
    keyIds.map((id) => tryParseKmsArn(id)?.region).find((r) => r !== undefined)
  // Precondition: a Region (the SDK cannot pick a KMS endpoint without one).
  if (!region) {
    throw new ConfigurationError(
      'No AWS Region for KMS.',
      'Pass --region, set AWS_REGION, or name the key by its full ARN (which includes the Region).',
    )
  }
  return region
}

/**
 * KMS clients for `keyIds`: the main one for the resolved Region, plus one per other Region that a key
 * ARN names (multi-Region keys, DR copies). Every client goes through core's `createKmsClient`, which
 * refuses a plain-HTTP endpoint off loopback.
 *
 * @example
 * ```ts
 * import { kmsClients } from '@kms-envelope/cli'
 * const { client, clients } = kmsClients({ env: process.env, endpoint: 'http://127.0.0.1:4599' }, ['arn:aws:kms:us-east-1:111122223333:key/…'])
 * ```
 */
export function kmsClients(
  settings: KmsSettings,
  keyIds: readonly string[] = [],
): { client: KMSClient; clients: Record<string, KMSClient>; region: string } {
  const region = resolveRegion(settings, keyIds)
  const credentials = envCredentials(settings.env)
  const make = (r: string) =>
    createKmsClient({
      region: r,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      ...(credentials === undefined ? {} : { credentials }),
    })
  const client = make(region)
  const clients: Record<string, KMSClient> = {}
  for (const id of keyIds) {
    const r = tryParseKmsArn(id)?.region
    if (r && r !== region && !clients[r]) clients[r] = make(r)
  }
  return { client, clients, region }
}
