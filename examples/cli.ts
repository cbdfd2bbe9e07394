/**
 * The `kms-envelope` command line, run in process: start a local KMS server on 127.0.0.1, create a key,
 * encrypt a file with an encryption context, inspect its header without any key, decrypt it requiring
 * the context, then watch a tampered copy and a wrong context fail with no output file left behind, and
 * finally reach the same KMS through a named profile of a shared config file (no --region, no --endpoint).
 *
 * Run: `npx -y pnpm@10 demo` (all examples) or `npx tsx examples/cli.ts`.
 * The same as shell commands: see packages/cli/README.md.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { run } from '@kms-envelope/cli'
import { LocalKms } from '@kms-envelope/local-kms'
import { isMain } from './is-main.js'

/** Run `kms-envelope <argv>` in process; return its exit code and what it printed. */
async function kmsEnvelope(argv: string[], env: Record<string, string>, cwd: string) {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        into.push(chunk)
        cb()
      },
    })
  const code = await run(argv, { stdin: Readable.from([]), stdout: sink(out), stderr: sink(err), env, cwd })
  return { code, out: Buffer.concat(out).toString().trimEnd(), err: Buffer.concat(err).toString().trimEnd() }
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  const dir = mkdtempSync(join(tmpdir(), 'kms-envelope-cli-example-'))
  try {
    // 1. A local KMS over HTTP on loopback (the CLI reaches it with --endpoint, credentials test/test).
    const server = await kms.listen({ port: 0 })
    const { KeyMetadata } = await kms.client().send(new CreateKeyCommand({ Description: 'cli example' }))
    const key = KeyMetadata!.Arn!
    const env: Record<string, string> = {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: kms.region,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // The shared config files live in the example's directory, never in your ~/.aws.
      HOME: dir,
      AWS_CONFIG_FILE: join(dir, 'aws-config'),
    }
    const kmsFlags = ['--endpoint', server.endpoint]
    log(`local KMS at ${server.endpoint}, key ${key}`)

    const plaintext = randomBytes(1_000_000)
    writeFileSync(join(dir, 'backup.db'), plaintext)

    // 2. Encrypt a 1 MB file (streamed) with an encryption context.
    const enc = await kmsEnvelope(
      [
        'encrypt',
        ...kmsFlags,
        '--key',
        key,
        '--context',
        'tenant=acme',
        '--context',
        'purpose=backup',
      ].concat(['--in', 'backup.db', '--out', 'backup.db.kenv', '--verbose']),
      env,
      dir,
    )
    log(
      `$ kms-envelope encrypt --key … --context tenant=acme --context purpose=backup --in backup.db --out backup.db.kenv → exit ${enc.code}`,
    )
    for (const line of enc.err.split('\n')) log(`  ${line}`)

    // 3. Inspect: no key, no KMS call.
    const ins = await kmsEnvelope(['inspect', '--in', 'backup.db.kenv'], env, dir)
    log(`$ kms-envelope inspect --in backup.db.kenv → exit ${ins.code}`)
    for (const line of ins.out.split('\n')) log(`  ${line}`)

    // 4. Decrypt, requiring the tenant.
    const dec = await kmsEnvelope(
      [
        'decrypt',
        ...kmsFlags,
        '--key',
        key,
        '--expect',
        'tenant=acme',
        '--in',
        'backup.db.kenv',
        '--out',
        'restored.db',
      ],
      env,
      dir,
    )
    const same = readFileSync(join(dir, 'restored.db')).equals(plaintext)
    log(
      `$ kms-envelope decrypt --key … --expect tenant=acme --in backup.db.kenv --out restored.db → exit ${dec.code}, identical: ${same}`,
    )

    // 5. Failures: another tenant's context, and one flipped bit in the last frame.
    const wrong = await kmsEnvelope(
      [
        'decrypt',
        ...kmsFlags,
        '--key',
        key,
        '--expect',
        'tenant=globex',
        '--in',
        'backup.db.kenv',
        '--out',
        'x.db',
      ],
      env,
      dir,
    )
    log(`$ kms-envelope decrypt … --expect tenant=globex → exit ${wrong.code}: ${wrong.err.split('\n')[0]}`)
    const ct = readFileSync(join(dir, 'backup.db.kenv'))
    ct[ct.length - 20]! ^= 1
    writeFileSync(join(dir, 'tampered.kenv'), ct)
    const bad = await kmsEnvelope(
      ['decrypt', ...kmsFlags, '--key', key, '--in', 'tampered.kenv', '--out', 'tampered.db'],
      env,
      dir,
    )
    log(
      `$ kms-envelope decrypt --in tampered.kenv --out tampered.db → exit ${bad.code}: ${bad.err.split('\n')[0]}`,
    )
    log(
      `  tampered.db exists: ${existsSync(join(dir, 'tampered.db'))} (what was decrypted went to a temp file, then deleted)`,
    )

    // 6. A named profile, as with the AWS CLI: its region and endpoint_url replace AWS_REGION and --endpoint.
    // (The access keys stay in the environment: they win over AWS_PROFILE, as in the AWS CLI; with
    // --profile the profile's own credentials would be used.)
    writeFileSync(
      join(dir, 'aws-config'),
      `[profile local-kms]\nregion = ${kms.region}\nendpoint_url = ${server.endpoint}\n`,
    )
    const { AWS_REGION: _region, ...withoutRegion } = env
    const viaProfile = await kmsEnvelope(
      ['decrypt', '--key', key, '--in', 'backup.db.kenv', '--out', 'restored-2.db', '--verbose'],
      { ...withoutRegion, AWS_PROFILE: 'local-kms' },
      dir,
    )
    log(
      `$ AWS_PROFILE=local-kms kms-envelope decrypt --key … --in backup.db.kenv --out restored-2.db -v → exit ${viaProfile.code}`,
    )
    log(`  ${viaProfile.err.split('\n')[0]}`)
    const missing = await kmsEnvelope(
      ['decrypt', '--profile', 'prod', '--key', key, '--in', 'backup.db.kenv', '--out', 'x.db'],
      withoutRegion,
      dir,
    )
    log(
      `$ kms-envelope decrypt --profile prod … → exit ${missing.code}: ${missing.err.split('\n')[0]!.replaceAll(dir, '<dir>')}`,
    )
    const calls = kms.engine.auditLog().map((e) => e.eventName)
    log(
      `KMS calls: ${calls.filter((n) => n === 'GenerateDataKey').length} GenerateDataKey, ${calls.filter((n) => n === 'Decrypt').length} Decrypt (the wrong context was refused before KMS)`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await kms.close()
  }
}

if (isMain(import.meta.url)) await main()
