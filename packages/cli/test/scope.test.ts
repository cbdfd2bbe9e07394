import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ExitCode } from '@kms-envelope/cli'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, type Harness, startKms, tempDir } from './helpers.js'

let h: Harness
const t = tempDir()
const store = join(t.dir, 'store')
beforeAll(async () => {
  h = await startKms()
  mkdirSync(store)
})
afterAll(async () => {
  await h.close()
  t.remove()
})

const scope = (...args: string[]) =>
  cli(['scope', ...args, '--store', store, '--endpoint', h.endpoint, '--actor', 'alice@example.com'], {
    env: h.env,
  })

describe('scope administration over a FileKeyStore', () => {
  it('rotate, list, versions, destroy (with --yes only), audit', async () => {
    const r1 = await scope('rotate', 'customer-42', '--root-key', h.keyArn)
    expect(r1.err).toBe('')
    expect(r1.out).toContain('rotated customer-42: now v1')
    expect((await scope('rotate', 'customer-42', '--root-key', h.keyArn)).out).toContain('now v2')
    expect(
      h.kms.engine.auditLog().filter((e) => e.eventName === 'GenerateDataKeyWithoutPlaintext').length,
    ).toBe(2)

    const list = await scope('list', '--json')
    expect(JSON.parse(list.out)).toEqual([{ scopeId: 'customer-42', state: 'active', versions: 2 }])

    const versions = JSON.parse((await scope('versions', 'customer-42', '--json')).out) as Record<
      string,
      unknown
    >[]
    expect(versions.map((v) => [v.version, v.state, v.wrappingKeyId])).toEqual([
      [1, 'active', h.keyArn],
      [2, 'active', h.keyArn],
    ])
    expect(versions.every((v) => !('wrappedKey' in v))).toBe(true)

    const refused = await scope('destroy', 'customer-42', '--version', '1', '--root-key', h.keyArn)
    expect(refused.code).toBe(ExitCode.Usage)
    expect(refused.err).toContain('without --yes')
    const destroyed = await scope(
      'destroy',
      'customer-42',
      '--version',
      '1',
      '--root-key',
      h.keyArn,
      '--yes',
      '--reason',
      'exposed in logs',
    )
    expect(destroyed.code).toBe(0)
    expect(destroyed.out).toContain('destroyed customer-42 v1')
    expect((await scope('versions', 'customer-42')).out).toMatch(
      /v1 +destroyed .* destroyed .* by alice@example\.com/,
    )

    const audit = await scope('audit', 'customer-42')
    expect(audit.out).toMatch(/alice@example\.com +rotate +customer-42 v2/)
    expect(audit.out).toMatch(/alice@example\.com +destroy-version +customer-42 v1 \(exposed in logs\)/)

    const all = await scope('destroy', 'customer-42', '--all', '--yes', '--root-key', h.keyArn)
    expect(all.code).toBe(0)
    // A destroyed scope takes no new versions.
    const again = await scope('rotate', 'customer-42', '--root-key', h.keyArn)
    expect(again.code).toBe(ExitCode.Key)
    expect(again.err).toContain('error [ERR_KEY_DESTROYED]')
  })

  it('a missing store directory is an I/O error, never a new empty store', async () => {
    const r = await cli(['scope', 'list', '--store', join(t.dir, 'typo')], { env: h.env })
    expect(r.code).toBe(ExitCode.Io)
    expect(r.err).toContain('error [ERR_IO]')
  })

  it('rotate needs --root-key; destroy needs --version or --all', async () => {
    expect((await scope('rotate', 'c')).err).toContain('needs --root-key')
    expect((await scope('destroy', 'c', '--yes', '--root-key', h.keyArn)).err).toContain(
      '--version <n> ... or --all',
    )
    expect((await scope('versions')).err).toContain('needs a scope id')
  })
})
