/**
 * The AWS shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`), read the way the AWS
 * SDK for JavaScript v3 reads them (its `parseIni`, `getConfigData` and profile merge), so that the CLI can
 * tell a missing profile from one without a Region, and pick a profile's Region and endpoint itself, from
 * the environment it was given.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError } from '@kms-envelope/core'

type Env = Readonly<Record<string, string | undefined>>
/** The settings of one section: `key` or, for a sub-property, `parent.key`. */
type Section = ReadonlyMap<string, string>

/** The section types the SDK recognizes in `[type name]` headers. */
const SECTION_TYPES = new Set(['profile', 'sso-session', 'services'])
const PREFIXED = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/

/**
 * @internal Parse an INI file as the SDK's `parseIni` does: `[section]` headers (`[type name]` becomes
 * `type.name` for the known types; other prefixed headers are skipped), `key = value` lines, `;`/`#`
 * comments, and indented `key = value` sub-properties under a `parent =` line (stored as `parent.key`).
 * A section appears only once it has a setting.
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>()
  let current: string | undefined
  let parent: string | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.split(/(^|\s)[;#]/)[0]!.trim()
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1)
      const m = PREFIXED.exec(name)
      current = m ? (SECTION_TYPES.has(m[1]!) ? `${m[1]}.${m[3]}` : undefined) : name
      parent = undefined
      continue
    }
    if (current === undefined) continue
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    if (value === '') {
      parent = key
      continue
    }
    if (parent !== undefined && raw.trimStart() === raw) parent = undefined
    const section = sections.get(current) ?? new Map<string, string>()
    sections.set(current, section)
    section.set(parent === undefined ? key : `${parent}.${key}`, value)
  }
  return sections
}

/** @internal What the shared files say, and where they are. */
export interface SharedConfig {
  readonly configFile: string
  readonly credentialsFile: string
  /** Profiles by name: the credentials file's section overlaid by the config file's (as the SDK merges them). */
  readonly profiles: ReadonlyMap<string, Section>
  /** `[services name]` sections of the config file. */
  readonly services: ReadonlyMap<string, Section>
}

function homeOf(env: Env): string {
  return (
    env.HOME || env.USERPROFILE || (env.HOMEPATH ? `${env.HOMEDRIVE ?? 'C:\\'}${env.HOMEPATH}` : homedir())
  )
}

function expand(path: string, env: Env): string {
  return path.startsWith('~/') ? join(homeOf(env), path.slice(2)) : path
}

/** A file's text, or '' when it cannot be read (the SDK ignores missing or unreadable files too). */
async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    return ''
  }
}

/**
 * @internal Read both files: `AWS_CONFIG_FILE` (default `~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE`
 * (default `~/.aws/credentials`) of `env`.
 */
export async function readSharedConfig(env: Env): Promise<SharedConfig> {
  const configFile = expand(env.AWS_CONFIG_FILE || join(homeOf(env), '.aws', 'config'), env)
  const credentialsFile = expand(
    env.AWS_SHARED_CREDENTIALS_FILE || join(homeOf(env), '.aws', 'credentials'),
    env,
  )
  const [config, credentials] = await Promise.all([readText(configFile), readText(credentialsFile)])
  const profiles = new Map<string, Section>()
  const services = new Map<string, Section>()
  const merge = (name: string, section: Section) =>
    profiles.set(name, new Map([...(profiles.get(name) ?? []), ...section]))
  // Credentials file: `[name]`. Config file: `[default]` or `[profile name]`, and `[services name]`.
  for (const [name, section] of parseIni(credentials)) merge(name, section)
  // As the SDK's getConfigData: `[default]`, then `[profile name]` sections (a `[profile default]` replaces
  // `[default]`); other unprefixed sections are not profiles.
  const parsed = parseIni(config)
  const configProfiles = new Map<string, Section>()
  const plainDefault = parsed.get('default')
  if (plainDefault) configProfiles.set('default', plainDefault)
  for (const [name, section] of parsed) {
    if (name.startsWith('profile.')) configProfiles.set(name.slice('profile.'.length), section)
    else if (name.startsWith('services.')) services.set(name.slice('services.'.length), section)
  }
  for (const [name, section] of configProfiles) merge(name, section)
  return { configFile, credentialsFile, profiles, services }
}

/** `true` / `false` (any case), undefined when absent; anything else is a configuration error. */
function booleanSetting(value: string | undefined, where: string): boolean | undefined {
  if (value === undefined) return undefined
  if (/^true$/i.test(value)) return true
  if (/^false$/i.test(value)) return false
  throw new ConfigurationError(`${where} is "${value}", not true or false.`, `Set it to true or false.`)
}

/**
 * @internal The endpoint the SDK would take from the environment or the profile when none is given in code
 * ("service-specific endpoints"): `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, the profile's `services`
 * section (`kms = endpoint_url = …`), the profile's `endpoint_url`; none when
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` or the profile's `ignore_configured_endpoint_urls` is true.
 */
export function configuredEndpoint(
  env: Env,
  shared: SharedConfig,
  profileName: string,
): { endpoint: string; source: string } | undefined {
  const profile = shared.profiles.get(profileName)
  const ignore =
    booleanSetting(
      env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS || undefined,
      'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
    ) ??
    booleanSetting(
      profile?.get('ignore_configured_endpoint_urls'),
      `ignore_configured_endpoint_urls of profile ${profileName}`,
    )
  if (ignore) return undefined
  if (env.AWS_ENDPOINT_URL_KMS) return { endpoint: env.AWS_ENDPOINT_URL_KMS, source: 'AWS_ENDPOINT_URL_KMS' }
  if (env.AWS_ENDPOINT_URL) return { endpoint: env.AWS_ENDPOINT_URL, source: 'AWS_ENDPOINT_URL' }
  const servicesName = profile?.get('services')
  if (servicesName !== undefined) {
    const services = shared.services.get(servicesName)
    // Precondition: the services section the profile names exists (the SDK refuses it too).
    if (!services) {
      throw new ConfigurationError(
        `Profile ${profileName} names the services section "${servicesName}", which is not in ${shared.configFile}.`,
        `Add [services ${servicesName}] to that file, or remove the profile's services setting.`,
      )
    }
    const endpoint = services.get('kms.endpoint_url')
    if (endpoint !== undefined) {
      return { endpoint, source: `[services ${servicesName}] of ${shared.configFile}` }
    }
  }
  const endpoint = profile?.get('endpoint_url')
  return endpoint === undefined ? undefined : { endpoint, source: `profile ${profileName}` }
}
