// The CLI started as a real child process: it prints its endpoint, answers the real KMSClient, refuses a
// locked data directory and a non-loopback host, and releases its lock on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  CreateGrantCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListKeysCommand,
} from '@aws-sdk/client-kms'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalKms } from '../../src/index.js'
import { CREDENTIALS, REGION, SEED, SEEDED_KEY_ARN, SERVICE_ROLE } from './world.js'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'local-kms-cli-'))
const seedPath = join(dir, 'seed.json')
writeFileSync(seedPath, JSON.stringify(SEED))
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** Runs the CLI (TypeScript sources through tsx) and collects its output. */
function cli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const endpoint = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', () => {
      const m = /Local KMS listening on (http:\/\/\S+)/.exec(stdout)
      if (m?.[1]) resolve(m[1])
    })
    void exited.then((code) => reject(new Error(`CLI exited with ${code}: ${stderr}`)))
  })
  // Runs that are expected to exit never await the endpoint: do not report its rejection as unhandled.
  endpoint.catch(() => undefined)
  return { child, endpoint, exited, output: () => ({ stdout, stderr }) }
}

describe('kms-envelope-local-kms CLI', () => {
  it('--help prints the usage and exits 0', async () => {
    const run = cli(['--help'])
    expect(await run.exited).toBe(0)
    expect(run.output().stdout).toMatch(/Usage: kms-envelope-local-kms/)
    expect(run.output().stdout).toMatch(/--data-dir/)
  })

  it('an unknown option exits 2 with the usage', async () => {
    const run = cli(['--no-such-flag'])
    expect(await run.exited).toBe(2)
    expect(run.output().stderr).toMatch(/Unknown option/)
  })

  it('refuses a non-loopback host', async () => {
    const run = cli(['--port', '0', '--host', '0.0.0.0'])
    expect(await run.exited).toBe(1)
    expect(run.output().stderr).toMatch(/loopback/)
  })

  it('serves a seeded data directory, refuses a second process on it, releases the lock on SIGTERM', async () => {
    const dataDir = join(dir, 'data')
    const server = cli(['--port', '0', '--data-dir', dataDir, '--seed', seedPath, '--region', REGION])
    const endpoint = await server.endpoint
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.output().stdout).toContain(
      `AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${endpoint}`,
    )
    const client = new KMSClient({ endpoint, region: REGION, credentials: CREDENTIALS.admin, maxAttempts: 1 })
    const keys = await client.send(new ListKeysCommand({}))
    expect(keys.Keys?.map((k) => k.KeyArn)).toContain(SEEDED_KEY_ARN)
    expect((await client.send(new DescribeKeyCommand({ KeyId: 'alias/seeded' }))).KeyMetadata?.Arn).toBe(
      SEEDED_KEY_ARN,
    )

    const second = cli(['--port', '0', '--data-dir', dataDir])
    expect(await second.exited).toBe(1)
    expect(second.output().stderr).toMatch(/in use by process/)

    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(server.output().stdout).toMatch(/SIGTERM: closing/)
    // The lock is released: the directory opens again, with its state.
    const reopened = await LocalKms.create({ dataDir })
    try {
      const admin = reopened.client({ maxAttempts: 1 })
      expect((await admin.send(new DescribeKeyCommand({ KeyId: 'alias/seeded' }))).KeyMetadata?.Arn).toBe(
        SEEDED_KEY_ARN,
      )
    } finally {
      await reopened.close()
    }
  })

  it('--grant-propagation-ms: a new grant needs its token; a bad value exits 2', async () => {
    const bad = cli(['--grant-propagation-ms', 'soon'])
    expect(await bad.exited).toBe(2)
    expect(bad.output().stderr).toMatch(/--grant-propagation-ms must be a whole number/)

    const server = cli(['--port', '0', '--seed', seedPath, '--grant-propagation-ms', '600000'])
    const endpoint = await server.endpoint
    expect(server.output().stdout).toMatch(/grants propagate in 600000 ms/)
    const client = (who: keyof typeof CREDENTIALS) =>
      new KMSClient({ endpoint, region: REGION, credentials: CREDENTIALS[who], maxAttempts: 1 })
    const { GrantToken } = await client('admin').send(
      new CreateGrantCommand({
        KeyId: SEEDED_KEY_ARN,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['GenerateDataKey'],
      }),
    )
    const gdk = (GrantTokens?: string[]) =>
      client('service').send(
        new GenerateDataKeyCommand({
          KeyId: SEEDED_KEY_ARN,
          KeySpec: 'AES_256',
          ...(GrantTokens ? { GrantTokens } : {}),
        }),
      )
    await expect(gdk()).rejects.toMatchObject({ name: 'AccessDeniedException' })
    expect((await gdk([GrantToken!])).Plaintext?.length).toBe(32)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
