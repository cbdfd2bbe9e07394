/**
 * How the CLI reaches KMS, resolved like the AWS CLI: a profile (`--profile` or AWS_PROFILE) from the shared
 * config and credentials files, the Region and endpoint from flags, the environment or that profile, and
 * core's endpoint check on whatever endpoint results.
 */
import { KMSClient } from '@aws-sdk/client-kms'
import { assertSecureKmsEndpoint, ConfigurationError, tryParseKmsArn } from '@kms-envelope/core'
import { str, type Values } from './args.js'
import { configuredEndpoint, readSharedConfig } from './shared-config.js'

/**
 * Where and how to reach KMS: the command line's settings and the environment they complete.
 *
 * @example
 * ```ts
 * import type { KmsSettings } from '@kms-envelope/cli'
 * const settings: KmsSettings = { profile: 'prod', region: 'eu-west-1', env: process.env }
 * ```
 */
export interface KmsSettings {
  /** `--region`; else AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, the Region of a key ARN. */
  readonly region?: string | undefined
  /**
   * `--endpoint`: https://…, or http:// on loopback only (core's check). Else AWS_ENDPOINT_URL_KMS,
   * AWS_ENDPOINT_URL, or the profile's `endpoint_url` (checked the same way); else the SDK's regional one.
   */
  readonly endpoint?: string | undefined
  /** `--profile`; else AWS_PROFILE. A named profile must exist in the shared config or credentials file. */
  readonly profile?: string | undefined
  /** The environment: AWS_* variables, HOME, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE. */
  readonly env: Readonly<Record<string, string | undefined>>
}

/**
 * What {@link resolveKms} chose, and where each choice came from (for `--verbose` and error messages).
 *
 * @example
 * ```ts
 * const target: KmsTarget = await resolveKms({ profile: 'dev', env: process.env })
 * console.error(`KMS in ${target.region} (${target.regionSource})`)
 * ```
 */
export interface KmsTarget {
  readonly region: string
  /** e.g. `--region`, `AWS_REGION`, `profile dev`, `the key ARN`. */
  readonly regionSource: string
  /** The endpoint, when one was given or configured (else the SDK's regional HTTPS endpoint). */
  readonly endpoint?: string
  readonly endpointSource?: string
  /** The named profile (`--profile` or AWS_PROFILE), if any: its settings apply. */
  readonly profile?: string
  /**
   * Where the credentials come from, as in the AWS CLI: `--profile` → that profile (environment keys are
   * not used); else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when both are set; else AWS_PROFILE's
   * profile; else the SDK's default chain (the default profile, SSO, container and instance roles).
   */
  readonly credentialsFrom: 'profile' | 'environment' | 'default-chain'
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
 * Resolve the profile, Region, endpoint and credential source, in the AWS CLI's order. The profile is `--profile`, else
 * AWS_PROFILE; a named profile that neither shared file defines is refused (ConfigurationError), rather
 * than falling through to other credentials. The Region is `--region`, AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's `region` (the `default` profile when none is named), else the Region of the first key
 * ARN. The endpoint is `--endpoint`, else the one the SDK would configure ({@link KmsSettings.endpoint}).
 *
 * @example
 * ```ts
 * import { resolveKms } from '@kms-envelope/cli'
 * const { region, profile } = await resolveKms({ profile: 'dev', env: process.env }, ['alias/backup'])
 * ```
 */
export async function resolveKms(settings: KmsSettings, keyIds: readonly string[] = []): Promise<KmsTarget> {
  const { env } = settings
  const profileSource = settings.profile !== undefined ? '--profile' : 'AWS_PROFILE'
  const named = settings.profile ?? (env.AWS_PROFILE || undefined)
  const shared = await readSharedConfig(env)
  const files = `${shared.configFile} or ${shared.credentialsFile}`
  // Precondition: a named profile exists (the SDK would go on to other credentials, e.g. an instance role).
  if (named !== undefined && !shared.profiles.has(named)) {
    throw new ConfigurationError(
      `The AWS profile "${named}" (from ${profileSource}) is not defined in ${files}.`,
      'Check the name (`aws configure list-profiles` lists them), or set AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE to the files that define it.',
    )
  }
  const profileName = named ?? 'default'
  const profile = shared.profiles.get(profileName)

  const arnRegion = keyIds.map((id) => tryParseKmsArn(id)?.region).find((r) => r !== undefined)
  const regionFrom: [string | undefined, string][] = [
    [settings.region, '--region'],
    [env.AWS_REGION || undefined, 'AWS_REGION'],
    [env.AWS_DEFAULT_REGION || undefined, 'AWS_DEFAULT_REGION'],
    [profile?.get('region'), `profile ${profileName}`],
    [arnRegion, 'the key ARN'],
  ]
  const found = regionFrom.find(([value]) => value !== undefined)
  // Precondition: a Region (the SDK cannot pick a KMS endpoint without one).
  if (found === undefined) {
    throw new ConfigurationError(
      named === undefined
        ? 'No AWS Region for KMS.'
        : `No AWS Region for KMS: profile ${named} (in ${files}) sets none.`,
      `Pass --region, set AWS_REGION, add region = <region> to the ${named === undefined ? '[default]' : `[profile ${named}]`} section of ${shared.configFile}, or name the key by its full ARN (which includes the Region).`,
    )
  }
  const [region, regionSource] = found as [string, string]

  const configured =
    settings.endpoint !== undefined
      ? { endpoint: settings.endpoint, source: '--endpoint' }
      : configuredEndpoint(env, shared, profileName)
  const credentialsFrom =
    settings.profile !== undefined
      ? 'profile'
      : envCredentials(env) !== undefined
        ? 'environment'
        : named !== undefined
          ? 'profile'
          : 'default-chain'
  return {
    region,
    regionSource,
    ...(configured === undefined ? {} : { endpoint: configured.endpoint, endpointSource: configured.source }),
    ...(named === undefined ? {} : { profile: named }),
    credentialsFrom,
  }
}

/**
 * @internal One line for `--verbose`: where KMS is and whose credentials are used (no secret).
 */
export function describeTarget(target: KmsTarget): string {
  const endpoint =
    target.endpoint === undefined ? 'the AWS endpoint' : `${target.endpoint} (${target.endpointSource})`
  const credentials =
    target.credentialsFrom === 'profile'
      ? `profile ${target.profile}`
      : target.credentialsFrom === 'environment'
        ? 'AWS_ACCESS_KEY_ID'
        : 'the SDK default chain'
  return `KMS: region ${target.region} (${target.regionSource}), ${endpoint}, credentials from ${credentials}`
}

/**
 * The Region {@link resolveKms} resolves.
 *
 * @example
 * ```ts
 * import { resolveRegion } from '@kms-envelope/cli'
 * await resolveRegion({ env: {} }, ['arn:aws:kms:eu-west-1:111122223333:key/…']) // 'eu-west-1'
 * ```
 */
export async function resolveRegion(settings: KmsSettings, keyIds: readonly string[] = []): Promise<string> {
  return (await resolveKms(settings, keyIds)).region
}

/**
 * KMS clients for `keyIds`: the main one for the resolved Region, plus one per other Region that a key ARN
 * names (multi-Region keys, DR copies). Credentials as {@link KmsTarget.credentialsFrom} says; a profile's
 * are read by the SDK, which also handles SSO, role assumption and `credential_process`. The SDK's own endpoint lookup
 * is off: the endpoint is only the one resolved here, and it passes core's check (HTTPS, or HTTP on
 * loopback) before this returns.
 *
 * @example
 * ```ts
 * import { kmsClients } from '@kms-envelope/cli'
 * const { client, clients } = await kmsClients({ env: process.env, endpoint: 'http://127.0.0.1:4599' }, ['arn:aws:kms:us-east-1:111122223333:key/…'])
 * ```
 */
export async function kmsClients(
  settings: KmsSettings,
  keyIds: readonly string[] = [],
): Promise<{ client: KMSClient; clients: Record<string, KMSClient> } & KmsTarget> {
  const target = await resolveKms(settings, keyIds)
  const { endpoint } = target
  if (endpoint !== undefined) {
    // Precondition: a URL (the SDK would fail on the first call with a bare TypeError).
    try {
      new URL(endpoint)
    } catch (cause) {
      throw new ConfigurationError(
        `The KMS endpoint "${endpoint}" (from ${target.endpointSource}) is not a URL.`,
        'Give a full URL such as https://kms.us-east-1.amazonaws.com.',
        { cause },
      )
    }
  }
  const profile = target.credentialsFrom === 'profile' ? target.profile : undefined
  const credentials = target.credentialsFrom === 'environment' ? envCredentials(settings.env) : undefined
  const make = (region: string) =>
    new KMSClient({
      region,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(profile === undefined ? {} : { profile }),
      ...(credentials === undefined ? {} : { credentials }),
      // The SDK would otherwise read AWS_ENDPOINT_URL* and endpoint_url itself, at the first call (after any
      // endpoint check) and from AWS_PROFILE's profile rather than `profile`: the endpoint is resolved above.
      ignoreConfiguredEndpointUrls: true,
    })
  const client = make(target.region)
  // Precondition: HTTPS, or plain HTTP on loopback only: data keys travel in KMS responses.
  try {
    await assertSecureKmsEndpoint(client)
  } catch (err) {
    if (!(err instanceof ConfigurationError) || target.endpointSource === '--endpoint') throw err
    // A configured endpoint: say where it came from (an environment variable or a file).
    const detail = err.message.slice(0, err.message.length - err.remedy.length).trimEnd()
    throw new ConfigurationError(`${detail} It came from ${target.endpointSource}.`, err.remedy, {
      cause: err,
    })
  }
  const clients: Record<string, KMSClient> = {}
  for (const id of keyIds) {
    const r = tryParseKmsArn(id)?.region
    if (r && r !== target.region && !clients[r]) clients[r] = make(r)
  }
  return { client, clients, ...target }
}

/** @internal The KMS settings of a command: its global options and the environment. */
export function kmsSettings(values: Values, env: KmsSettings['env']): KmsSettings {
  return {
    region: str(values, 'region'),
    endpoint: str(values, 'endpoint'),
    profile: str(values, 'profile'),
    env,
  }
}
