import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalKmsEngine } from '../../src/engine/index.js'
import { A, b64, rejects } from './helpers.js'
import { APP_POLICY, doc, identitySeed, ROLE_APP, USER_LEGACY, USER_NOBODY } from './identity-seed.js'

const dirs: string[] = []
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'lkms-iam-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function encryptAs(engine: LocalKmsEngine, accessKeyId: string, keyId: string) {
  return engine.call(
    'Encrypt',
    { KeyId: keyId, Plaintext: b64('x') },
    engine.resolveAccessKey(accessKeyId)!.caller,
  )
}

describe('IAM identity policies persist like other state', () => {
  it('runtime changes survive a restart without seed, and with a seed that does not restate them', async () => {
    const d = dir()
    let e = await LocalKmsEngine.open({ dataDir: d, seed: identitySeed })
    const root = e.resolveAccessKey('root')!.caller
    const key = ((await e.call('CreateKey', {}, root)).KeyMetadata as { Arn: string }).Arn
    await e.deletePrincipalPolicy(ROLE_APP, 'app')
    const readOnly = doc({ Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*' })
    await e.putPrincipalPolicy(USER_LEGACY, 'read-only', readOnly)
    await e.putPrincipalPolicy(
      USER_NOBODY,
      'encrypt',
      doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: key }),
    )
    await e.close()

    e = await LocalKmsEngine.open({ dataDir: d })
    expect(e.principalPolicies(USER_LEGACY)).toEqual({ 'read-only': JSON.stringify(readOnly) })
    expect(e.principalPolicies(ROLE_APP)).toEqual({})
    await rejects(encryptAs(e, 'legacy', key), 'AccessDeniedException')
    await rejects(encryptAs(e, 'app', key), 'AccessDeniedException')
    await encryptAs(e, 'nobody', key)
    await e.close()

    // The seed restates app's and nobody's policies (they win), not legacy's (the saved ones are kept).
    e = await LocalKmsEngine.open({ dataDir: d, seed: identitySeed })
    expect(Object.keys(e.principalPolicies(USER_LEGACY) ?? {})).toEqual(['read-only'])
    expect(e.principalPolicies(ROLE_APP)).toEqual({ app: JSON.stringify(APP_POLICY) })
    expect(e.principalPolicies(USER_NOBODY)).toEqual({})
    await encryptAs(e, 'app', key)
    await rejects(encryptAs(e, 'nobody', key), 'AccessDeniedException')
    await e.close()
  })

  it('a state file written before identity policies existed opens with every principal on the default', async () => {
    const d = dir()
    let e = await LocalKmsEngine.open({ dataDir: d, seed: identitySeed, plaintextKeyMaterial: true })
    await e.close()
    const path = join(d, 'state.json')
    const state = JSON.parse(readFileSync(path, 'utf8'))
    expect(state.identityPolicies.length).toBeGreaterThan(0)
    delete state.identityPolicies
    writeFileSync(path, JSON.stringify(state))
    e = await LocalKmsEngine.open({ dataDir: d, plaintextKeyMaterial: true })
    expect(e.principalPolicies(USER_NOBODY)).toBeUndefined()
    const key = (
      (await e.call('CreateKey', {}, e.resolveAccessKey('root')!.caller)).KeyMetadata as { Arn: string }
    ).Arn
    await encryptAs(e, 'nobody', key)
    expect(key).toContain(`:${A}:key/`)
    await e.close()
  })
})
