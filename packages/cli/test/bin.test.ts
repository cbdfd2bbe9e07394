// The real bin in child processes (tsx on the sources), against a local KMS server on 127.0.0.1.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Harness, startKms, tempDir } from './helpers.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs')
const bin = join(root, 'packages/cli/src/cli.ts')

let h: Harness
const t = tempDir()
const p = (name: string) => join(t.dir, name)
beforeAll(async () => {
  h = await startKms()
})
afterAll(async () => {
  await h.close()
  t.remove()
})

function kmsEnvelope(
  args: string[],
  stdin?: Buffer,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsx, bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...h.env },
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

describe('kms-envelope bin (child processes)', () => {
  it('encrypt a file → inspect → decrypt with --expect: same bytes; failures exit non-zero with no output', async () => {
    const plain = randomBytes(600_000)
    writeFileSync(p('data.bin'), plain)
    const common = ['--endpoint', h.endpoint]
    const enc = await kmsEnvelope([
      'encrypt',
      ...common,
      '--key',
      h.keyArn,
      '-c',
      'tenant=acme',
      '--in',
      p('data.bin'),
      '--out',
      p('data.kenv'),
    ])
    expect(enc.stderr).toBe('')
    expect(enc.code).toBe(0)

    const [ins, dec, wrong, exists] = await Promise.all([
      kmsEnvelope(['inspect', '--in', p('data.kenv')]),
      kmsEnvelope([
        'decrypt',
        ...common,
        '--key',
        h.keyArn,
        '--expect',
        'tenant=acme',
        '--in',
        p('data.kenv'),
        '--out',
        p('back.bin'),
      ]),
      kmsEnvelope([
        'decrypt',
        ...common,
        '--key',
        h.keyArn,
        '--expect',
        'tenant=globex',
        '--in',
        p('data.kenv'),
        '--out',
        p('wrong.bin'),
      ]),
      kmsEnvelope(['encrypt', ...common, '--key', h.keyArn, '--in', p('data.bin'), '--out', p('data.kenv')]),
    ])
    expect(ins.code).toBe(0)
    expect(ins.stdout.toString()).toContain('tenant=acme')
    expect(dec.code).toBe(0)
    expect(readFileSync(p('back.bin')).equals(plain)).toBe(true)
    expect(wrong.code).toBe(7)
    expect(wrong.stderr).toMatch(/^error \[ERR_CONTEXT_MISMATCH\]/)
    expect(existsSync(p('wrong.bin'))).toBe(false)
    expect(exists.code).toBe(4)
    expect(exists.stderr).toMatch(/^error \[ERR_OUTPUT_EXISTS\]/)

    const tampered = readFileSync(p('data.kenv'))
    tampered[tampered.length - 30]! ^= 0x80
    writeFileSync(p('tampered.kenv'), tampered)
    const bad = await kmsEnvelope([
      'decrypt',
      ...common,
      '--key',
      h.keyArn,
      '--in',
      p('tampered.kenv'),
      '--out',
      p('bad.bin'),
    ])
    expect(bad.code).toBe(5)
    expect(bad.stderr).toMatch(/^error \[ERR_TAMPERED\]/)
    expect(existsSync(p('bad.bin'))).toBe(false)
    expect(t.files()).toEqual(['back.bin', 'data.bin', 'data.kenv', 'tampered.kenv'])
  }, 20_000)

  it('pipes stdin → stdout both ways', async () => {
    const common = ['--endpoint', h.endpoint, '--key', h.keyArn]
    const enc = await kmsEnvelope(['encrypt', ...common, '-c', 'job=backup'], Buffer.from('from a pipe'))
    expect(enc.code).toBe(0)
    const dec = await kmsEnvelope(['decrypt', ...common, '-e', 'job=backup'], enc.stdout)
    expect(dec.code).toBe(0)
    expect(dec.stdout.toString()).toBe('from a pipe')
  }, 20_000)
})
