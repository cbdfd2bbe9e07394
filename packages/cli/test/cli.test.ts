import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms'
import { ExitCode, exitCodeFor, parsePairs, printable, VERSION } from '@kms-envelope/cli'
import { inspect } from '@kms-envelope/core'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { cli, type Harness, startKms, tempDir } from './helpers.js'

let h: Harness
let t: ReturnType<typeof tempDir>
beforeAll(async () => {
  h = await startKms()
})
afterAll(async () => {
  await h.close()
})
beforeEach(() => {
  t = tempDir()
})
afterEach(() => t.remove())

const p = (name: string) => join(t.dir, name)
const kmsArgs = () => ['--endpoint', h.endpoint]

async function encryptFile(plain: Buffer, context = ['tenant=acme', 'purpose=test']) {
  writeFileSync(p('plain.bin'), plain)
  const r = await cli(
    [
      'encrypt',
      ...kmsArgs(),
      '--key',
      h.keyArn,
      ...context.flatMap((c) => ['--context', c]),
      '--in',
      p('plain.bin'),
      '--out',
      p('msg.kenv'),
    ],
    { env: h.env },
  )
  expect(r.err).toBe('')
  expect(r.code).toBe(0)
  return readFileSync(p('msg.kenv'))
}

describe('usage', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version'])
    expect(r.code).toBe(0)
    expect(r.out.trim()).toBe(VERSION)
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    expect(VERSION).toBe(pkg.version)
  })

  it('help for the tool and each command', async () => {
    expect((await cli(['--help'])).out).toMatch(/Commands:[\s\S]*encrypt[\s\S]*Exit codes/)
    for (const cmd of ['encrypt', 'decrypt', 'inspect', 'scope']) {
      const a = await cli([cmd, '--help'])
      expect(a.code).toBe(0)
      expect(a.out).toContain(`Usage: kms-envelope ${cmd}`)
      expect((await cli(['help', cmd])).out).toBe(a.out)
    }
    // A topic named like an Object member is no command: the tool's help.
    for (const topic of ['constructor', 'toString', '__proto__']) {
      const r = await cli(['help', topic])
      expect(r.code).toBe(0)
      expect(r.out).toBe((await cli(['--help'])).out)
    }
  })

  it.each([
    [[], /No command given/],
    [['frobnicate'], /Unknown command "frobnicate"/],
    [['constructor'], /Unknown command "constructor"/],
    [['toString'], /Unknown command "toString"/],
    [['__proto__'], /Unknown command "__proto__"/],
    [['encrypt', '--key', 'alias/x', '--bogus'], /Unknown option '--bogus'/],
    [['encrypt'], /encrypt needs --key/],
    [['encrypt', '--key', 'alias/x', '--context', 'tenant'], /--context expects key=value, got "tenant"/],
    [['encrypt', '--key', 'alias/x', '-c', 'a=1', '-c', 'a=2'], /--context gives "a" twice/],
    [['encrypt', '--key', 'alias/x', 'file.txt'], /Unexpected argument "file.txt"/],
    [['decrypt'], /decrypt needs --key \(strict\) or --discovery/],
    [['decrypt', '--discovery'], /--discovery needs --account/],
    [['decrypt', '--discovery', '--account', '12'], /not a 12-digit AWS account id/],
    [['decrypt', '--key', 'alias/x', '--discovery', '--account', '111122223333'], /either --key/],
    [
      ['decrypt', '--key', 'alias/x', '--account', '111122223333'],
      /--account and --partition only apply with --discovery/,
    ],
    [['decrypt', '--key', 'alias/x', '--buffer', '--out', 'x'], /--buffer applies to stdout only/],
    [['scope', 'frob', '--store', '.'], /Unknown scope action "frob"/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const r = await cli(argv as string[], { env: { AWS_REGION: 'us-east-1' } })
    expect(r.code).toBe(ExitCode.Usage)
    expect(r.err).toMatch(/^(?:[\s\S]*\n)?error \[ERR_USAGE\]: /)
    expect(r.err).toMatch(message)
    expect(r.err).toContain('what to do:')
  })

  it('refuses to write ciphertext to a terminal', async () => {
    const r = await cli(['encrypt', '--key', h.keyArn], { env: h.env, tty: true, stdin: Buffer.from('x') })
    expect(r.code).toBe(ExitCode.Usage)
    expect(r.err).toContain('terminal')
  })

  it('refuses a plain-HTTP endpoint off loopback before reading anything (exit 3)', async () => {
    const r = await cli(
      ['encrypt', '--endpoint', 'http://kms.example.com', '--key', h.keyArn, '--in', p('missing')],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Configuration)
    expect(r.err).toContain('error [ERR_CONFIGURATION]: Refusing KMS endpoint http://kms.example.com')
  })

  it('discovery in a partition that does not exist is a configuration error (exit 3)', async () => {
    const r = await cli(['decrypt', '--discovery', '--account', '111122223333', '--partition', 'mars'], {
      env: h.env,
    })
    expect(r.code).toBe(ExitCode.Configuration)
    expect(r.err).toContain('"mars" is not an AWS partition')
  })

  it('needs a Region, but takes it from a key ARN', async () => {
    const noRegion = await cli(['encrypt', '--key', 'alias/backup', '--out', p('x')], { env: {} })
    expect(noRegion.code).toBe(ExitCode.Configuration)
    expect(noRegion.err).toContain('No AWS Region')
    const { AWS_REGION: _r, ...env } = h.env
    writeFileSync(p('in'), 'hello')
    const fromArn = await cli(
      ['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('in'), '--out', p('x')],
      { env },
    )
    expect(fromArn.code).toBe(0)
  })

  it('a missing input is ERR_IO (exit 4) and creates no output', async () => {
    const r = await cli(['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('nope'), '--out', p('x')], {
      env: h.env,
    })
    expect(r.code).toBe(ExitCode.Io)
    expect(r.err).toContain('error [ERR_IO]: Cannot read')
    expect(t.files()).toEqual([])
  })
})

describe('encrypt → inspect → decrypt', () => {
  it('round trip through files; inspect shows the header without KMS; plaintext file is 0600', async () => {
    const plain = randomBytes(700_000) // three frames
    const ct = await encryptFile(plain)
    expect(ct.length).toBeGreaterThan(plain.length)

    const info = await cli(['inspect', '--in', p('msg.kenv'), '--json'])
    expect(info.code).toBe(0)
    const json = JSON.parse(info.out) as {
      context: unknown
      framed: boolean
      authenticated: boolean
      encryptedDataKeys: { keyId: string }[]
    }
    expect(json.context).toEqual({ purpose: 'test', tenant: 'acme' })
    expect(json.framed).toBe(true)
    expect(json.authenticated).toBe(false)
    expect(json.encryptedDataKeys.map((k) => k.keyId)).toEqual([h.keyArn])
    const text = await cli(['inspect'], { stdin: ct })
    expect(text.out).toContain('tenant=acme')
    expect(text.out).toContain(`aws-kms ${h.keyArn}`)

    const d = await cli(
      [
        'decrypt',
        ...kmsArgs(),
        '--key',
        h.keyArn,
        '--expect',
        'tenant=acme',
        '--in',
        p('msg.kenv'),
        '--out',
        p('back.bin'),
        '-v',
      ],
      { env: h.env },
    )
    expect(d.code).toBe(0)
    expect(d.err).toContain('authenticated context {"purpose":"test","tenant":"acme"}')
    expect(readFileSync(p('back.bin')).equals(plain)).toBe(true)
    expect(statSync(p('back.bin')).mode & 0o777).toBe(0o600)
    expect(t.files()).toEqual(['back.bin', 'msg.kenv', 'plain.bin']) // no temp files left
  })

  it("context keys '__proto__' and 'constructor' are ordinary pairs: bound, shown, expected", async () => {
    const plain = randomBytes(1000)
    await encryptFile(plain, ['__proto__=x', 'constructor=y'])
    const info = await cli(['inspect', '--in', p('msg.kenv'), '--json'])
    expect(JSON.stringify((JSON.parse(info.out) as { context: unknown }).context)).toBe(
      '{"__proto__":"x","constructor":"y"}',
    )
    const decrypt = (expect: string[]) =>
      cli(
        [
          'decrypt',
          ...kmsArgs(),
          '--key',
          h.keyArn,
          ...expect.flatMap((e) => ['--expect', e]),
          '--in',
          p('msg.kenv'),
          '--out',
          p('back.bin'),
          '--force',
        ],
        { env: h.env },
      )
    const ok = await decrypt(['__proto__=x', 'constructor=y'])
    expect(ok.err).toBe('')
    expect(readFileSync(p('back.bin')).equals(plain)).toBe(true)
    for (const wrong of [['__proto__=other'], ['constructor=other'], ['toString=y']]) {
      const r = await decrypt(wrong)
      expect(r.code, wrong.join(' ')).toBe(ExitCode.ContextMismatch)
    }
  })

  it('stdin → stdout both ways', async () => {
    const plain = Buffer.from('piped secret\n')
    const e = await cli(['encrypt', ...kmsArgs(), '--key', h.keyArn, '-c', 'tenant=acme'], {
      env: h.env,
      stdin: plain,
    })
    expect(e.code).toBe(0)
    const d = await cli(
      ['decrypt', ...kmsArgs(), '--key', h.keyArn, '-e', 'tenant=acme', '--in', '-', '--out', '-'],
      {
        env: h.env,
        stdin: e.stdout,
      },
    )
    expect(d.code).toBe(0)
    expect(d.stdout.equals(plain)).toBe(true)
  })

  it('additional keys each wrap the data key; a reader trusting only the second key decrypts', async () => {
    const { KeyMetadata } = await h.kms.client().send(new CreateKeyCommand({}))
    const second = KeyMetadata!.Arn!
    writeFileSync(p('in'), 'dr copy')
    const e = await cli(
      ['encrypt', ...kmsArgs(), '--key', h.keyArn, '--key', second, '--in', p('in'), '--out', p('m')],
      { env: h.env },
    )
    expect(e.code).toBe(0)
    expect((await cli(['inspect', '--in', p('m')])).out).toContain(second)
    const d = await cli(['decrypt', ...kmsArgs(), '--key', second, '--in', p('m')], { env: h.env })
    expect(d.out).toBe('dr copy')
  })

  it('discovery mode: the key account decrypts; another account is refused (exit 8)', async () => {
    const ct = await encryptFile(Buffer.from('discover me'))
    const ok = await cli(['decrypt', ...kmsArgs(), '--discovery', '--account', '111122223333'], {
      env: h.env,
      stdin: ct,
    })
    expect(ok.code).toBe(0)
    expect(ok.out).toBe('discover me')
    const no = await cli(
      [
        'decrypt',
        ...kmsArgs(),
        '--discovery',
        '--account',
        '999988887777',
        '--in',
        p('msg.kenv'),
        '--out',
        p('o'),
      ],
      {
        env: h.env,
      },
    )
    expect(no.code).toBe(ExitCode.Key)
    expect(no.err).toMatch(/error \[ERR_INVALID_KEY\]/)
    expect(existsSync(p('o'))).toBe(false)
  })
})

describe('failures leave no output file', () => {
  it('wrong --expect: ERR_CONTEXT_MISMATCH, exit 7, before any KMS call', async () => {
    await encryptFile(Buffer.from('tenant data'))
    const decrypts = () => h.kms.engine.auditLog().filter((e) => e.eventName === 'Decrypt').length
    const before = decrypts()
    const r = await cli(
      [
        'decrypt',
        ...kmsArgs(),
        '--key',
        h.keyArn,
        '--expect',
        'tenant=globex',
        '--in',
        p('msg.kenv'),
        '--out',
        p('o'),
      ],
      {
        env: h.env,
      },
    )
    expect(r.code).toBe(ExitCode.ContextMismatch)
    expect(r.err).toContain('error [ERR_CONTEXT_MISMATCH]: Encryption context mismatch on "tenant"')
    expect(t.files()).toEqual(['msg.kenv', 'plain.bin'])
    expect(decrypts()).toBe(before)
  })

  it('a byte flipped in the LAST frame: ERR_TAMPERED, exit 5, and the earlier authentic frames are not kept', async () => {
    const ct = await encryptFile(randomBytes(700_000))
    ct[ct.length - 40]! ^= 1
    writeFileSync(p('bad.kenv'), ct)
    const r = await cli(
      ['decrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('bad.kenv'), '--out', p('o')],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Integrity)
    expect(r.err).toContain('error [ERR_TAMPERED]')
    expect(t.files()).toEqual(['bad.kenv', 'msg.kenv', 'plain.bin'])
  })

  it('truncated: ERR_TRUNCATED, exit 5, no output', async () => {
    const ct = await encryptFile(randomBytes(700_000))
    writeFileSync(p('cut.kenv'), ct.subarray(0, ct.length - 100))
    const r = await cli(
      ['decrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('cut.kenv'), '--out', p('o')],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Integrity)
    expect(r.err).toContain('error [ERR_TRUNCATED]')
    expect(existsSync(p('o'))).toBe(false)
  })

  it('stdout: frames stream out as they authenticate; --buffer holds everything back until the end', async () => {
    const ct = await encryptFile(randomBytes(2_700_000))
    const { frameLength } = inspect(ct)
    expect(2_700_000).toBeGreaterThan(2 * frameLength) // two full frames, then the final one
    ct[ct.length - 40]! ^= 1
    const streamed = await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn], { env: h.env, stdin: ct })
    expect(streamed.code).toBe(ExitCode.Integrity)
    expect(streamed.stdout.length).toBe(2 * frameLength) // the two authentic frames before the bad one
    const buffered = await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn, '--buffer'], {
      env: h.env,
      stdin: ct,
    })
    expect(buffered.code).toBe(ExitCode.Integrity)
    expect(buffered.stdout.length).toBe(0)
  })

  it("a failed decrypt to stdout leaves the caller's stdout usable; a broken pipe is ERR_IO (exit 4)", async () => {
    const ct = await encryptFile(randomBytes(700_000))
    const tampered = Buffer.from(ct)
    tampered[tampered.length - 40]! ^= 1
    const stdout = new PassThrough()
    stdout.resume()
    const bad = await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn], {
      env: h.env,
      stdin: tampered,
      stdout,
    })
    expect(bad.code).toBe(ExitCode.Integrity)
    expect(stdout.destroyed).toBe(false)
    expect(stdout.writableEnded).toBe(false)

    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
      },
    })
    broken.on('error', () => {})
    const pipe = await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn], {
      env: h.env,
      stdin: ct,
      stdout: broken,
    })
    expect(pipe.code).toBe(ExitCode.Io)
    expect(pipe.err).toContain('error [ERR_IO]: Cannot write stdout (EPIPE)')
  })

  it('not a message: inspect and decrypt say so (exit 6)', async () => {
    writeFileSync(p('junk'), randomBytes(2000))
    const r = await cli(['inspect', '--in', p('junk')])
    expect(r.code).toBe(ExitCode.Format)
    expect(r.err).toMatch(/error \[ERR_(MALFORMED|UNSUPPORTED_FORMAT)\]/)
    const d = await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('junk'), '--out', p('o')], {
      env: h.env,
    })
    expect(d.code).toBe(ExitCode.Format)
    expect(existsSync(p('o'))).toBe(false)
  })

  it('an existing --out is refused without --force (before KMS), replaced with it', async () => {
    writeFileSync(p('in'), 'new')
    writeFileSync(p('out'), 'precious')
    const before = h.kms.engine.auditLog().length
    const r = await cli(['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('in'), '--out', p('out')], {
      env: h.env,
    })
    expect(r.code).toBe(ExitCode.Io)
    expect(r.err).toContain('error [ERR_OUTPUT_EXISTS]')
    expect(readFileSync(p('out'), 'utf8')).toBe('precious')
    expect(h.kms.engine.auditLog().length).toBe(before)
    const f = await cli(
      ['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('in'), '--out', p('out'), '--force'],
      { env: h.env },
    )
    expect(f.code).toBe(0)
    expect(
      (await cli(['decrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('out')], { env: h.env })).out,
    ).toBe('new')
  })

  it('a context core refuses (reserved prefix) is exit 3 and leaves no temp file or open input', async () => {
    writeFileSync(p('plain.bin'), 'x')
    const r = await cli(
      [
        'encrypt',
        ...kmsArgs(),
        '--key',
        h.keyArn,
        '--context',
        'aws:x=1',
        '--in',
        p('plain.bin'),
        '--out',
        p('o'),
      ],
      { env: h.env },
    )
    expect(r.err).toContain('error [ERR_INVALID_CONTEXT]')
    expect(r.code).toBe(ExitCode.Configuration)
    expect(t.files()).toEqual(['plain.bin'])
  })

  it('--out equal to --in is refused', async () => {
    writeFileSync(p('in'), 'x')
    const r = await cli(
      ['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('in'), '--out', p('in'), '--force'],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Usage)
    expect(readFileSync(p('in'), 'utf8')).toBe('x')
  })

  it('a key outside the strict allow-list is never sent to KMS (exit 8)', async () => {
    await encryptFile(Buffer.from('x'))
    const { KeyMetadata } = await h.kms.client().send(new CreateKeyCommand({}))
    const r = await cli(
      ['decrypt', ...kmsArgs(), '--key', KeyMetadata!.Arn!, '--in', p('msg.kenv'), '--out', p('o')],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Key)
    expect(r.err).toContain('error [ERR_INVALID_KEY]')
    expect(existsSync(p('o'))).toBe(false)
  })

  it('a disabled key: ERR_KEY_DISABLED (exit 8); --verbose shows the KMS cause', async () => {
    const { KeyMetadata } = await h.kms.client().send(new CreateKeyCommand({}))
    await h.kms.client().send(new DisableKeyCommand({ KeyId: KeyMetadata!.KeyId }))
    writeFileSync(p('in'), 'x')
    const r = await cli(
      ['encrypt', ...kmsArgs(), '--key', KeyMetadata!.Arn!, '--in', p('in'), '--out', p('o'), '-v'],
      { env: h.env },
    )
    expect(r.code).toBe(ExitCode.Key)
    expect(r.err).toContain('error [ERR_KEY_DISABLED]')
    expect(r.err).toContain('cause: DisabledException')
    expect(t.files()).toEqual(['in'])
  })

  it('wrong credentials are refused by KMS; the error names no secret', async () => {
    writeFileSync(p('in'), 'x')
    const env = { ...h.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'not-the-secret' }
    const r = await cli(
      ['encrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('in'), '--out', p('o'), '-v'],
      { env },
    )
    expect(r.code).toBe(ExitCode.Configuration)
    // --verbose first says where KMS is and whose credentials (never a secret), then the error.
    expect(r.err).toMatch(/^KMS: region .*, credentials from AWS_ACCESS_KEY_ID\n/)
    expect(r.err).toMatch(/^error \[ERR_CONFIGURATION\]: KMS rejected the AWS credentials/m)
    expect(r.err).not.toContain('not-the-secret')
    expect(t.files()).toEqual(['in'])
  })

  it('an interrupted run (abort signal) exits 130 and leaves no file', async () => {
    const stdin = new PassThrough()
    const controller = new AbortController()
    stdin.write(randomBytes(300_000))
    const pending = cli(['encrypt', ...kmsArgs(), '--key', h.keyArn, '--out', p('o')], {
      env: h.env,
      stdin,
      signal: controller.signal,
    })
    await new Promise((r) => setTimeout(r, 300))
    controller.abort()
    const r = await pending
    expect(r.code).toBe(ExitCode.Interrupted)
    expect(r.err).toContain('error [ERR_INTERRUPTED]')
    expect(t.files()).toEqual([])
  })
})

describe('terminal safety and helpers', () => {
  it('inspect escapes control characters from the file', async () => {
    const ct = await encryptFile(Buffer.from('x'), ['note=\u001b[2Jgotcha', 'bidi=\u202eevil'])
    const r = await cli(['inspect'], { stdin: ct })
    expect(r.out).toContain('note=\\u001b[2Jgotcha')
    expect(r.out).toContain('bidi=\\u202eevil')
    expect(r.out.includes('\u001b') || r.out.includes('\u202e')).toBe(false)
  })

  it('decrypt --verbose escapes the context it prints (C1 controls and bidi survive JSON.stringify)', async () => {
    await encryptFile(Buffer.from('x'), ['csi=\u009b2J', 'bidi=\u202eevil'])
    const r = await cli(
      ['decrypt', ...kmsArgs(), '--key', h.keyArn, '--in', p('msg.kenv'), '--out', p('x'), '--verbose'],
      { env: h.env },
    )
    expect(r.code).toBe(0)
    expect(r.err).toContain('\\u009b2J')
    expect(r.err.includes('\u009b') || r.err.includes('\u202e')).toBe(false)
  })

  it('printable never lets a control character through (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const bad = [...printable(s)].filter((c) => {
          const n = c.codePointAt(0)!
          return (
            n < 0x20 ||
            (n >= 0x7f && n <= 0x9f) ||
            (n >= 0x202a && n <= 0x202e) ||
            (n >= 0x2066 && n <= 0x2069)
          )
        })
        expect(bad).toEqual([])
      }),
    )
  })

  it('parsePairs splits at the first "=" (property)', () => {
    const key = fc.string({ minLength: 1 }).filter((k) => !k.includes('='))
    fc.assert(
      fc.property(fc.dictionary(key, fc.string()), (ctx) => {
        const pairs = Object.entries(ctx).map(([k, v]) => `${k}=${v}`)
        expect(parsePairs(pairs, '--context')).toEqual({ ...ctx })
      }),
    )
  })

  it('every error code maps to its documented exit code', () => {
    expect(exitCodeFor('ERR_TAMPERED')).toBe(5)
    expect(exitCodeFor('ERR_TRUNCATED')).toBe(5)
    expect(exitCodeFor('ERR_CONTEXT_MISMATCH')).toBe(7)
    expect(exitCodeFor('ERR_KEY_ACCESS_DENIED')).toBe(8)
    expect(exitCodeFor('ERR_KMS_UNAVAILABLE')).toBe(9)
    expect(exitCodeFor('ERR_SOMETHING_NEW')).toBe(1)
    for (const code of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(exitCodeFor(code)).toBe(ExitCode.Internal)
    expect(new Set(Object.values(ExitCode)).size).toBe(Object.values(ExitCode).length)
  })
})
