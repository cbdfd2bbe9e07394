import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalKmsEngine, LocalKmsError } from '../../src/engine/index.js'
import { b64, rejects, SERVICE_ROLE, twoAccountSeed, unb64 } from './helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'lkms-'))
const FIXED = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff))

function allBytes(d: string): Buffer {
  return Buffer.concat(readdirSync(d).map((f) => readFileSync(join(d, f))))
}

describe('persistence', () => {
  it('reopening the same data dir loses nothing: keys, states, material versions, policies, grants, aliases, tags, principals', async () => {
    const d = dir()
    let e = await LocalKmsEngine.open({ dataDir: d, seed: twoAccountSeed })
    let root = e.resolveAccessKey('test')!.caller
    const arn = (
      (await e.call('CreateKey', { Description: 'persist', Tags: [{ TagKey: 't', TagValue: 'v' }] }, root))
        .KeyMetadata as { Arn: string }
    ).Arn
    const { CiphertextBlob: v1 } = await e.call(
      'Encrypt',
      { KeyId: arn, Plaintext: b64('old'), EncryptionContext: { a: 'b' } },
      root,
    )
    await e.call('RotateKeyOnDemand', { KeyId: arn }, root)
    const { CiphertextBlob: v2 } = await e.call('Encrypt', { KeyId: arn, Plaintext: b64('new') }, root)
    await e.call('CreateAlias', { AliasName: 'alias/p', TargetKeyId: arn }, root)
    const { GrantId, GrantToken } = await e.call(
      'CreateGrant',
      { KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] },
      root,
    )
    const disabled = ((await e.call('CreateKey', {}, root)).KeyMetadata as { Arn: string }).Arn
    await e.call('DisableKey', { KeyId: disabled }, root)
    const ecc = (
      (await e.call('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, root))
        .KeyMetadata as { Arn: string }
    ).Arn
    const { Signature } = await e.call(
      'Sign',
      { KeyId: ecc, Message: b64('m'), SigningAlgorithm: 'ECDSA_SHA_256' },
      root,
    )
    await e.addAccessKey({
      principalArn: 'arn:aws:iam::111122223333:user/late',
      accessKeyId: 'late',
      secretAccessKey: 'late-s',
    })
    await e.close()

    e = await LocalKmsEngine.open({ dataDir: d })
    root = e.resolveAccessKey('test')!.caller
    const svc = e.resolveAccessKey('svc')!.caller
    expect(e.resolveAccessKey('late')?.secretAccessKey).toBe('late-s')
    expect(
      unb64(
        (await e.call('Decrypt', { CiphertextBlob: v1, EncryptionContext: { a: 'b' } }, root))
          .Plaintext as string,
      ),
    ).toBe('old')
    expect(unb64((await e.call('Decrypt', { CiphertextBlob: v2 }, svc)).Plaintext as string)).toBe('new')
    expect((await e.call('DescribeKey', { KeyId: 'alias/p' }, root)).KeyMetadata).toMatchObject({
      Arn: arn,
      Description: 'persist',
    })
    await e.call(
      'Verify',
      { KeyId: ecc, Message: b64('m'), Signature, SigningAlgorithm: 'ECDSA_SHA_256' },
      root,
    )
    expect((await e.call('DescribeKey', { KeyId: disabled }, root)).KeyMetadata).toMatchObject({
      KeyState: 'Disabled',
    })
    expect((await e.call('ListResourceTags', { KeyId: arn }, root)).Tags).toEqual([
      { TagKey: 't', TagValue: 'v' },
    ])
    expect((await e.call('ListGrants', { KeyId: arn }, root)).Grants).toMatchObject([{ GrantId }])
    await e.call('RetireGrant', { GrantToken }, root)
    await e.close()
    e = await LocalKmsEngine.open({ dataDir: d })
    await rejects(
      e.call('Decrypt', { CiphertextBlob: v2 }, e.resolveAccessKey('svc')!.caller),
      'AccessDeniedException',
    )
    await e.close()
  })

  it("grant constraints keyed '__proto__' / 'constructor' survive a reopen as ordinary pairs", async () => {
    const d = dir()
    let e = await LocalKmsEngine.open({ dataDir: d, seed: twoAccountSeed })
    const root = e.resolveAccessKey('test')!.caller
    const arn = ((await e.call('CreateKey', {}, root)).KeyMetadata as { Arn: string }).Arn
    const equals = JSON.parse('{"__proto__":"p","constructor":"c"}') as Record<string, string>
    await e.call(
      'CreateGrant',
      {
        KeyId: arn,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Encrypt'],
        Constraints: { EncryptionContextEquals: equals },
      },
      root,
    )
    await e.close()
    e = await LocalKmsEngine.open({ dataDir: d, seed: twoAccountSeed })
    const svc = e.resolveAccessKey('svc')!.caller
    const { Grants } = (await e.call('ListGrants', { KeyId: arn }, e.resolveAccessKey('test')!.caller)) as {
      Grants: { Constraints: unknown }[]
    }
    expect(JSON.stringify(Grants[0]!.Constraints)).toBe(JSON.stringify({ EncryptionContextEquals: equals }))
    await e.call('Encrypt', { KeyId: arn, Plaintext: b64('x'), EncryptionContext: equals }, svc)
    await rejects(
      e.call('Encrypt', { KeyId: arn, Plaintext: b64('x'), EncryptionContext: { constructor: 'c' } }, svc),
      'AccessDeniedException',
    )
    await e.close()
  })

  it('a second open of a locked directory is refused with a clear error; a stale lock of a dead process is taken over', async () => {
    const d = dir()
    const e = await LocalKmsEngine.open({ dataDir: d })
    const err = await LocalKmsEngine.open({ dataDir: d }).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(LocalKmsError)
    expect(err).toMatchObject({ code: 'ERR_LOCAL_KMS_LOCKED' })
    expect((err as Error).message).toContain(String(process.pid))
    await e.close()
    // A pid that surely is dead: a child that already exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid
    writeFileSync(join(d, 'lock'), JSON.stringify({ pid: dead }))
    const again = await LocalKmsEngine.open({ dataDir: d })
    await again.close()
    // A live owner (our parent process) is respected, and named.
    writeFileSync(join(d, 'lock'), JSON.stringify({ pid: process.ppid }))
    await expect(LocalKmsEngine.open({ dataDir: d })).rejects.toMatchObject({
      code: 'ERR_LOCAL_KMS_LOCKED',
      message: expect.stringContaining(`process ${process.ppid}`),
    })
    // A half-written lock (crash between create and write) is taken over once it is old.
    writeFileSync(join(d, 'lock'), '')
    await expect(LocalKmsEngine.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_LOCAL_KMS_LOCKED' })
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(d, 'lock'), old, old)
    await (await LocalKmsEngine.open({ dataDir: d })).close()
  })

  it('master.key is 0600; no key material appears on disk in the clear by default', async () => {
    const d = dir()
    const e = await LocalKmsEngine.open({
      dataDir: d,
      seed: {
        accounts: twoAccountSeed.accounts,
        keys: [{ account: '111122223333', keyId: 'fixed-key', material: FIXED.toString('base64') }],
      },
    })
    const root = e.resolveAccessKey('test')!.caller
    const dk = await e.call('GenerateDataKey', { KeyId: 'fixed-key', KeySpec: 'AES_256' }, root)
    await e.call(
      'CreateGrant',
      { KeyId: 'fixed-key', GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] },
      root,
    )
    await e.close()
    expect(statSync(join(d, 'master.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(d, 'state.json')).mode & 0o077).toBe(0)
    const disk = allBytes(d)
    for (const needle of [FIXED, Buffer.from(FIXED.toString('base64')), Buffer.from(FIXED.toString('hex'))]) {
      expect(disk.includes(needle)).toBe(false)
    }
    // The data key never reaches disk either (the audit log holds no plaintext).
    const dataKey = Buffer.from(dk.Plaintext as string, 'base64')
    expect(disk.includes(dataKey) || disk.includes(Buffer.from(dk.Plaintext as string))).toBe(false)
    // And the sealed material still decrypts after reopening (the blob was made with the fixed material).
    const e2 = await LocalKmsEngine.open({ dataDir: d })
    const out = await e2.call(
      'Decrypt',
      { CiphertextBlob: dk.CiphertextBlob },
      e2.resolveAccessKey('test')!.caller,
    )
    expect(out.Plaintext).toBe(dk.Plaintext)
    await e2.close()
  })

  it('plaintextKeyMaterial: true (dev opt-in) writes material in the clear and needs no master key', async () => {
    const d = dir()
    const e = await LocalKmsEngine.open({
      dataDir: d,
      plaintextKeyMaterial: true,
      seed: {
        accounts: twoAccountSeed.accounts,
        keys: [{ account: '111122223333', keyId: 'fixed-key', material: FIXED.toString('base64') }],
      },
    })
    await e.close()
    expect(readdirSync(d)).not.toContain('master.key')
    expect(readFileSync(join(d, 'state.json'), 'utf8')).toContain(FIXED.toString('base64'))
  })

  it('a master.key readable by others, or one that does not match the state, is refused', async () => {
    const d = dir()
    await (await LocalKmsEngine.open({ dataDir: d })).close()
    const { chmodSync } = await import('node:fs')
    chmodSync(join(d, 'master.key'), 0o644)
    await expect(LocalKmsEngine.open({ dataDir: d })).rejects.toThrow(/chmod 600/)
    chmodSync(join(d, 'master.key'), 0o600)
    const e = await LocalKmsEngine.open({ dataDir: d })
    await e.call('CreateKey', {}, e.resolveAccessKey('test')!.caller)
    await e.close()
    writeFileSync(join(d, 'master.key'), Buffer.alloc(32, 1), { mode: 0o600 })
    await expect(LocalKmsEngine.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_LOCAL_KMS_STATE' })
    // The failed open released the lock.
    writeFileSync(join(d, 'master.key'), Buffer.alloc(32, 2), { mode: 0o600 })
    await expect(LocalKmsEngine.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_LOCAL_KMS_STATE' })
  })

  it('concurrent mutating calls are all saved; no temp files are left behind', async () => {
    const d = dir()
    const e = await LocalKmsEngine.open({ dataDir: d })
    const root = e.resolveAccessKey('test')!.caller
    await Promise.all(Array.from({ length: 40 }, () => e.call('CreateKey', {}, root)))
    await e.close()
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([])
    const e2 = await LocalKmsEngine.open({ dataDir: d })
    expect(
      (await e2.call('ListKeys', { Limit: 1000 }, e2.resolveAccessKey('test')!.caller)).Keys,
    ).toHaveLength(40)
    await e2.close()
  })

  it('a key deleted when its deletion date passed is gone from disk too', async () => {
    const d = dir()
    let now = Date.now()
    let e = await LocalKmsEngine.open({ dataDir: d, now: () => now })
    const root = e.resolveAccessKey('test')!.caller
    const arn = ((await e.call('CreateKey', {}, root)).KeyMetadata as { Arn: string }).Arn
    await e.call('ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 7 }, root)
    now += 8 * 86_400_000
    expect(readFileSync(join(d, 'state.json'), 'utf8')).toContain(arn)
    await rejects(e.call('DescribeKey', { KeyId: arn }, root), 'NotFoundException')
    // Saved by the failing call itself, not only at close.
    expect(readFileSync(join(d, 'state.json'), 'utf8')).not.toContain(arn)
    await e.close()
    e = await LocalKmsEngine.open({ dataDir: d })
    await rejects(e.call('DescribeKey', { KeyId: arn }, root), 'NotFoundException')
    await e.close()
  })

  it('a region change on an existing directory is refused', async () => {
    const d = dir()
    await (await LocalKmsEngine.open({ dataDir: d, region: 'eu-west-1' })).close()
    await expect(LocalKmsEngine.open({ dataDir: d, region: 'us-east-1' })).rejects.toThrow(/eu-west-1/)
    const e = await LocalKmsEngine.open({ dataDir: d })
    expect(e.region).toBe('eu-west-1')
    await e.close()
  })
})
