// Profiles, Region and endpoint from the shared config/credentials files, like the AWS CLI: in process for
// resolution and refusals, and through the real bin (child processes, a controlled environment) for the
// credentials the SDK reads from a profile.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CreateAliasCommand } from '@aws-sdk/client-kms'
import { resolveKms } from '@kms-envelope/cli'
import { ConfigurationError } from '@kms-envelope/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { cli, type Harness, startKms, tempDir } from './helpers.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs')
const bin = join(root, 'packages/cli/src/cli.ts')
const ALIAS = 'alias/cli-profile-test'

let h: Harness
let t: ReturnType<typeof tempDir>
beforeAll(async () => {
  h = await startKms()
  await h.kms.client().send(new CreateAliasCommand({ AliasName: ALIAS, TargetKeyId: h.keyArn }))
})
afterAll(async () => {
  await h.close()
})
beforeEach(() => {
  t = tempDir()
})
afterEach(() => t.remove())

const p = (name: string) => join(t.dir, name)

/** Shared files in the temp directory, and an environment naming them (HOME too, so ~/.aws is not read). */
function sharedFiles(config: string, credentials = ''): Record<string, string> {
  writeFileSync(p('config'), config)
  writeFileSync(p('credentials'), credentials)
  return {
    HOME: t.dir,
    AWS_CONFIG_FILE: p('config'),
    AWS_SHARED_CREDENTIALS_FILE: p('credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
}

/** Requests the local KMS has served. */
const served = () => h.kms.engine.auditLog().length

function kmsEnvelope(
  args: string[],
  env: Record<string, string>,
  stdin?: Buffer,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, bin, ...args], {
      cwd: root,
      // Only PATH from the parent: no AWS_* variable leaks in.
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.on('error', reject)
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }),
    )
    child.stdin.end(stdin ?? Buffer.alloc(0))
  })
}

describe('profiles through the real bin (the SDK reads the credentials)', () => {
  it('--profile / AWS_PROFILE: Region, endpoint and credentials from the profile; encrypt then decrypt', async () => {
    // No AWS_REGION, no access keys in the environment, an alias (no Region in it): all from the profile.
    const env = sharedFiles(
      `[default]\nregion = eu-west-3\n\n[profile local]\nregion = ${h.kms.region}\nendpoint_url = ${h.endpoint}\n`,
      '[local]\naws_access_key_id = test\naws_secret_access_key = test\n',
    )
    const plain = randomBytes(50_000)
    writeFileSync(p('plain.bin'), plain)
    const before = served()
    const enc = await kmsEnvelope(
      [
        'encrypt',
        '--profile',
        'local',
        '--key',
        ALIAS,
        '-c',
        'tenant=acme',
        '--in',
        p('plain.bin'),
        '--out',
        p('msg.kenv'),
      ],
      env,
    )
    expect(enc.stderr).toBe('')
    expect(enc.code).toBe(0)
    const dec = await kmsEnvelope(
      ['decrypt', '--key', ALIAS, '--expect', 'tenant=acme', '--in', p('msg.kenv'), '--out', p('back.bin')],
      { ...env, AWS_PROFILE: 'local' },
    )
    expect(dec.stderr).toBe('')
    expect(dec.code).toBe(0)
    expect(readFileSync(p('back.bin')).equals(plain)).toBe(true)
    // The local KMS served them, signed with the profile's access key.
    const calls = h.kms.engine.auditLog().slice(before)
    expect(calls.map((e) => e.eventName)).toEqual(expect.arrayContaining(['GenerateDataKey', 'Decrypt']))
    expect(new Set(calls.map((e) => e.userIdentity.accessKeyId))).toEqual(new Set(['test']))
  }, 30_000)

  it('credentials as the AWS CLI picks them: --profile over environment keys, environment keys over AWS_PROFILE', async () => {
    const env = sharedFiles(
      `[profile good]\nregion = ${h.kms.region}\nendpoint_url = ${h.endpoint}\n[profile bad]\nregion = ${h.kms.region}\nendpoint_url = ${h.endpoint}\n`,
      '[good]\naws_access_key_id = test\naws_secret_access_key = test\n[bad]\naws_access_key_id = test\naws_secret_access_key = wrong\n',
    )
    const goodKeys = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }
    const badKeys = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'wrong' }
    const encrypt = (args: string[], extra: Record<string, string>) =>
      kmsEnvelope(['encrypt', '--key', ALIAS, '-v', ...args], { ...env, ...extra }, Buffer.from('x'))
    // --profile good with wrong keys in the environment: the profile's are used.
    const explicit = await encrypt(['--profile', 'good'], badKeys)
    expect(explicit.code).toBe(0)
    expect(explicit.stderr).toContain(
      `KMS: region ${h.kms.region} (profile good), ${h.endpoint} (profile good), credentials from profile good`,
    )
    // AWS_PROFILE=bad with good keys in the environment: the keys are used (the profile's settings apply).
    const implicit = await encrypt([], { ...goodKeys, AWS_PROFILE: 'bad' })
    expect(implicit.stderr).toContain('(profile bad), credentials from AWS_ACCESS_KEY_ID')
    expect(implicit.code).toBe(0)
    // AWS_PROFILE=bad alone: its wrong secret is used, and KMS refuses it.
    const refused = await encrypt([], { AWS_PROFILE: 'bad' })
    expect(refused.stderr).toContain('credentials from profile bad')
    expect(refused.code).not.toBe(0)
  }, 30_000)

  it('a missing profile fails at once (exit 3), before any KMS call and without falling back', async () => {
    const env = sharedFiles('[profile local]\nregion = us-east-1\n')
    writeFileSync(p('plain.bin'), 'x')
    const before = served()
    const r = await kmsEnvelope(
      ['encrypt', '--endpoint', h.endpoint, '--key', h.keyArn, '--in', p('plain.bin'), '--out', p('o')],
      // Environment keys are there, but a named profile never falls back to them.
      { ...env, AWS_PROFILE: 'prod', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    )
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(
      `error [ERR_CONFIGURATION]: The AWS profile "prod" (from AWS_PROFILE) is not defined in ${p('config')} or ${p('credentials')}.`,
    )
    expect(r.stderr).toContain('what to do: Check the name')
    expect(served()).toBe(before)
    expect(existsSync(p('o'))).toBe(false)
  }, 30_000)

  it('a configured plain-HTTP endpoint off loopback is refused (the SDK would have used it unchecked)', async () => {
    const env = {
      ...sharedFiles(''),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_KMS: 'http://kms.invalid:8080',
    }
    writeFileSync(p('plain.bin'), 'x')
    const r = await kmsEnvelope(['encrypt', '--key', h.keyArn, '--in', p('plain.bin'), '--out', p('o')], env)
    expect(r.stderr).toContain('error [ERR_CONFIGURATION]: Refusing KMS endpoint http://kms.invalid:8080')
    expect(r.stderr).toContain('It came from AWS_ENDPOINT_URL_KMS.')
    expect(r.code).toBe(3)
    expect(existsSync(p('o'))).toBe(false)
  }, 30_000)
})

describe('Region and endpoint from the shared files (in process)', () => {
  const keys = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }

  it("the default profile's region and endpoint_url reach the local KMS (no --region, no --endpoint)", async () => {
    const env = {
      ...sharedFiles(`[default]\nregion = ${h.kms.region}\nendpoint_url = ${h.endpoint}\n`),
      ...keys,
    }
    writeFileSync(p('plain.bin'), 'profile data')
    const enc = await cli(['encrypt', '--key', ALIAS, '--in', p('plain.bin'), '--out', p('msg.kenv')], {
      env,
    })
    expect(enc.err).toBe('')
    expect(enc.code).toBe(0)
    const dec = await cli(['decrypt', '--key', ALIAS, '--in', p('msg.kenv')], { env })
    expect(dec.code).toBe(0)
    expect(dec.out).toBe('profile data')
  })

  it('--profile on the command line: a missing one is ERR_CONFIGURATION (exit 3) naming both files', async () => {
    const env = {
      ...sharedFiles('[profile dev]\nregion = us-east-1\n', '[ci]\naws_access_key_id = a\n'),
      ...keys,
    }
    const before = served()
    for (const args of [
      ['encrypt', '--profile', 'prod', '--key', h.keyArn, '--in', p('missing')],
      ['decrypt', '--key', h.keyArn, '--profile', 'prod', '--in', p('missing')],
      ['scope', 'rotate', 'tenant-1', '--profile', 'prod', '--store', t.dir, '--root-key', h.keyArn],
    ]) {
      const r = await cli(args, { env })
      expect(r.code).toBe(3)
      expect(r.err).toContain(
        `error [ERR_CONFIGURATION]: The AWS profile "prod" (from --profile) is not defined in ${p('config')} or ${p('credentials')}.`,
      )
    }
    // Defined in either file: found. `[profile "ci"]`-less credentials sections are profiles too.
    await expect(resolveKms({ profile: 'ci', region: 'us-east-1', env })).resolves.toMatchObject({
      profile: 'ci',
    })
    await expect(resolveKms({ profile: 'dev', env })).resolves.toMatchObject({
      region: 'us-east-1',
      regionSource: 'profile dev',
      profile: 'dev',
    })
    expect(served()).toBe(before)
  })

  it('no Region anywhere: ERR_CONFIGURATION saying where a Region can go', async () => {
    const env = { ...sharedFiles('[profile dev]\noutput = json\n'), ...keys }
    writeFileSync(p('plain.bin'), 'x')
    const none = await cli(['encrypt', '--key', ALIAS, '--in', p('plain.bin'), '--out', p('o')], { env })
    expect(none.code).toBe(3)
    expect(none.err).toContain('error [ERR_CONFIGURATION]: No AWS Region for KMS.')
    expect(none.err).toContain(`add region = <region> to the [default] section of ${p('config')}`)
    const dev = await cli(['encrypt', '--profile', 'dev', '--key', ALIAS, '--in', p('plain.bin')], { env })
    expect(dev.code).toBe(3)
    expect(dev.err).toContain('No AWS Region for KMS: profile dev')
    expect(dev.err).toContain('to the [profile dev] section')
    expect(existsSync(p('o'))).toBe(false)
  })

  it('credential source: --profile, else environment keys, else AWS_PROFILE, else the default chain', async () => {
    const env = sharedFiles('[profile dev]\nregion = us-east-1\n')
    const from = async (settings: { profile?: string }, over: Record<string, string>) =>
      (await resolveKms({ ...settings, env: { ...env, ...over } })).credentialsFrom
    expect(await from({ profile: 'dev' }, keys)).toBe('profile')
    expect(await from({}, { ...keys, AWS_PROFILE: 'dev' })).toBe('environment')
    expect(await from({}, { AWS_PROFILE: 'dev' })).toBe('profile')
    expect(await from({}, { ...keys, AWS_REGION: 'us-east-1' })).toBe('environment')
    expect(await from({}, { AWS_REGION: 'us-east-1' })).toBe('default-chain')
  })

  it('precedence: flag, AWS_REGION, AWS_DEFAULT_REGION, profile, key ARN; --endpoint over configured ones', async () => {
    const env = sharedFiles('[profile dev]\nregion = eu-west-1\nendpoint_url = https://kms.profile.example\n')
    const arn = 'arn:aws:kms:ap-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
    const resolve = (over: Record<string, string | undefined>, settings: object = {}) =>
      resolveKms({ profile: 'dev', ...settings, env: { ...env, ...over } }, [arn])
    expect(await resolve({ AWS_REGION: 'us-west-2' }, { region: 'ca-central-1' })).toMatchObject({
      region: 'ca-central-1',
      regionSource: '--region',
    })
    expect(await resolve({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'us-east-2' })).toMatchObject({
      region: 'us-west-2',
      regionSource: 'AWS_REGION',
    })
    expect(await resolve({ AWS_DEFAULT_REGION: 'us-east-2' })).toMatchObject({ region: 'us-east-2' })
    expect(await resolve({})).toMatchObject({
      region: 'eu-west-1',
      endpoint: 'https://kms.profile.example',
      endpointSource: 'profile dev',
    })
    expect(await resolveKms({ env }, [arn])).toMatchObject({
      region: 'ap-south-1',
      regionSource: 'the key ARN',
    })
    expect(await resolve({ AWS_ENDPOINT_URL: 'https://kms.global.example' })).toMatchObject({
      endpoint: 'https://kms.global.example',
    })
    expect(
      await resolve({
        AWS_ENDPOINT_URL: 'https://kms.global.example',
        AWS_ENDPOINT_URL_KMS: 'https://kms.kms.example',
      }),
    ).toMatchObject({ endpoint: 'https://kms.kms.example', endpointSource: 'AWS_ENDPOINT_URL_KMS' })
    expect(
      await resolve(
        { AWS_ENDPOINT_URL_KMS: 'https://kms.kms.example' },
        { endpoint: 'https://flag.example' },
      ),
    ).toMatchObject({ endpoint: 'https://flag.example', endpointSource: '--endpoint' })
    const ignored = await resolve({
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
      AWS_ENDPOINT_URL: 'https://x',
    })
    expect(ignored.endpoint).toBeUndefined()
    await expect(resolve({ AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'yes' })).rejects.toBeInstanceOf(
      ConfigurationError,
    )
  })

  it('reads the files as the SDK does: services sections, sub-properties, comments, section kinds', async () => {
    const env = sharedFiles(
      [
        '# a comment',
        '[default]',
        'region = us-east-1 ; trailing comment',
        '[profile default]',
        'output = json',
        '[profile svc]',
        'region=eu-central-1',
        'services = local-kms',
        's3 =',
        '  endpoint_url = https://s3.example',
        'endpoint_url = https://kms.profile.example',
        '[services local-kms]',
        'kms =',
        '  endpoint_url = http://127.0.0.1:4599',
        '[profile broken]',
        'services = nowhere',
        '[profile off]',
        'endpoint_url = https://kms.off.example',
        'ignore_configured_endpoint_urls = true',
        '[notaprofile]',
        'region = sa-east-1',
        '[profile empty]',
        '',
      ].join('\n'),
      '[creds-only]\nregion = ap-northeast-1\n[svc]\nregion = us-west-1\n',
    )
    // The services section's kms endpoint; the config file's region over the credentials file's.
    expect(await resolveKms({ profile: 'svc', env })).toMatchObject({
      region: 'eu-central-1',
      endpoint: 'http://127.0.0.1:4599',
      endpointSource: `[services local-kms] of ${p('config')}`,
    })
    expect(await resolveKms({ profile: 'creds-only', env })).toMatchObject({ region: 'ap-northeast-1' })
    // `[profile default]` replaces `[default]` (it has no region), as in the SDK.
    await expect(resolveKms({ env })).rejects.toThrow('No AWS Region for KMS.')
    await expect(resolveKms({ profile: 'broken', region: 'us-east-1', env })).rejects.toThrow(
      'names the services section "nowhere"',
    )
    expect((await resolveKms({ profile: 'off', region: 'us-east-1', env })).endpoint).toBeUndefined()
    // Not profiles: a config section without the `profile` prefix, and one with no setting.
    for (const name of ['notaprofile', 'empty']) {
      await expect(resolveKms({ profile: name, region: 'us-east-1', env })).rejects.toThrow(
        `The AWS profile "${name}" (from --profile) is not defined`,
      )
    }
  })

  it('a plain-HTTP endpoint from a profile is refused before any KMS call, naming the profile', async () => {
    const env = {
      ...sharedFiles('[profile dev]\nregion = us-east-1\nendpoint_url = http://kms.example.com\n'),
      ...keys,
    }
    writeFileSync(p('plain.bin'), 'x')
    const r = await cli(
      ['encrypt', '--profile', 'dev', '--key', ALIAS, '--in', p('plain.bin'), '--out', p('o')],
      {
        env,
      },
    )
    expect(r.code).toBe(3)
    expect(r.err).toContain('error [ERR_CONFIGURATION]: Refusing KMS endpoint http://kms.example.com')
    expect(r.err).toContain('It came from profile dev.')
    const bad = { ...sharedFiles('[default]\nregion = us-east-1\nendpoint_url = not a url\n'), ...keys }
    const r2 = await cli(['encrypt', '--key', ALIAS, '--in', p('plain.bin'), '--out', p('o')], { env: bad })
    expect(r2.code).toBe(3)
    expect(r2.err).toContain('The KMS endpoint "not a url" (from profile default) is not a URL.')
    expect(existsSync(p('o'))).toBe(false)
  })
})
