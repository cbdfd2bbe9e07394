import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalKmsEngine, LocalKmsError, type SeedFile } from '../../src/engine/index.js'
import { b64, rejects, SERVICE_ROLE, twoAccountSeed } from './helpers.js'

const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab'
const seed: SeedFile = {
  ...twoAccountSeed,
  keys: [
    {
      account: '111122223333',
      keyId: KEY,
      description: 'customer key',
      tags: { team: 'crm' },
      rotation: { enabled: true },
    },
    { account: '111122223333', keyId: 'disabled-key', state: 'Disabled' },
    {
      account: '444455556666',
      keyId: 'svc-key',
      policy: {
        Statement: [{ Effect: 'Allow', Principal: { AWS: SERVICE_ROLE }, Action: 'kms:*', Resource: '*' }],
      },
    },
  ],
  aliases: [{ account: '111122223333', name: 'alias/customer', targetKeyId: KEY }],
  grants: [
    {
      keyId: `arn:aws:kms:us-east-1:111122223333:key/${KEY}`,
      grantId: 'seeded-grant',
      granteePrincipal: SERVICE_ROLE,
      operations: ['GenerateDataKey', 'Decrypt'],
      constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    },
  ],
}

describe('seed', () => {
  it('no seed: account 111122223333, root with test/test, us-east-1', async () => {
    const e = await LocalKmsEngine.open()
    expect(e.region).toBe('us-east-1')
    expect(e.resolveAccessKey('test')).toEqual({
      secretAccessKey: 'test',
      caller: {
        accessKeyId: 'test',
        accountId: '111122223333',
        principalArn: 'arn:aws:iam::111122223333:root',
      },
    })
    expect(e.resolveAccessKey('unknown')).toBeUndefined()
    await e.close()
  })

  it('builds the seeded world: fixed key ids, states, tags, rotation, policies, aliases, grants, viaService', async () => {
    const e = await LocalKmsEngine.open({ seed })
    const root = e.resolveAccessKey('test')!.caller
    const svc = e.resolveAccessKey('svc')!.caller
    expect(e.resolveAccessKey('app')!.caller.viaService).toBe('profile.us-east-1.amazonaws.com')
    expect((await e.call('DescribeKey', { KeyId: 'alias/customer' }, root)).KeyMetadata).toMatchObject({
      KeyId: KEY,
      Description: 'customer key',
    })
    expect((await e.call('GetKeyRotationStatus', { KeyId: KEY }, root)).KeyRotationEnabled).toBe(true)
    expect((await e.call('ListResourceTags', { KeyId: KEY }, root)).Tags).toEqual([
      { TagKey: 'team', TagValue: 'crm' },
    ])
    await rejects(
      e.call('Encrypt', { KeyId: 'disabled-key', Plaintext: b64('x') }, root),
      'DisabledException',
    )
    const arn = `arn:aws:kms:us-east-1:111122223333:key/${KEY}`
    await e.call(
      'GenerateDataKey',
      { KeyId: arn, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme' } },
      svc,
    )
    await rejects(e.call('GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }, svc), 'AccessDeniedException')
    await e.call('Encrypt', { KeyId: 'svc-key', Plaintext: b64('x') }, svc)
    await rejects(
      e.call('Encrypt', { KeyId: 'svc-key', Plaintext: b64('x') }, e.resolveAccessKey('broot')!.caller),
      'AccessDeniedException',
    )
    await e.close()
  })

  it('accepts a path to a JSON file, and is idempotent on a persistent directory', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lkms-seed-'))
    const file = join(d, 'seed.json')
    writeFileSync(file, JSON.stringify(seed))
    const dataDir = join(d, 'data')
    let e = await LocalKmsEngine.open({ dataDir, seed: file })
    const root = e.resolveAccessKey('test')!.caller
    const { CiphertextBlob } = await e.call('Encrypt', { KeyId: KEY, Plaintext: b64('keep') }, root)
    await e.close()
    e = await LocalKmsEngine.open({ dataDir, seed: file })
    expect((await e.call('Decrypt', { CiphertextBlob }, root)).Plaintext).toBe(b64('keep'))
    expect((await e.call('ListGrants', { KeyId: KEY }, root)).Grants).toHaveLength(1)
    await e.close()
  })

  it('refuses invalid seeds with the path of the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [[], /seed must be a JSON object/],
      [{ accounts: [{ id: '123' }] }, /accounts\[0\]\.id must be a 12-digit/],
      [
        {
          accounts: [
            {
              id: '111122223333',
              principals: [{ arn: 'arn:aws:iam::444455556666:root', accessKeyId: 'a', secretAccessKey: 's' }],
            },
          ],
        },
        /accounts\[0\]\.principals\[0\]\.arn/,
      ],
      [
        {
          accounts: [
            { id: '111122223333', principals: [{ arn: 'arn:aws:iam::111122223333:root', accessKeyId: 'a' }] },
          ],
        },
        /secretAccessKey/,
      ],
      [
        { accounts: [], keys: [{ account: '111122223333', keyId: 'k', keySpec: 'AES_999' }] },
        /keys\[0\]\.keySpec/,
      ],
      [
        { accounts: [], keys: [{ account: '111122223333', keyId: 'k', keySpec: 'constructor' }] },
        /keys\[0\]\.keySpec/,
      ],
      [
        { accounts: [], keys: [{ account: '111122223333', keyId: 'k', policy: '{bad' }] },
        /keys\[0\] is refused/,
      ],
      [
        { accounts: [], aliases: [{ account: '111122223333', name: 'alias/a', targetKeyId: 'missing' }] },
        /aliases\[0\]\.targetKeyId/,
      ],
      [
        { accounts: [], grants: [{ keyId: 'k', granteePrincipal: SERVICE_ROLE, operations: ['Fly'] }] },
        /grants\[0\]\.operations/,
      ],
    ]
    for (const [bad, message] of cases) {
      const err = await LocalKmsEngine.open({ seed: bad as SeedFile }).catch((x: unknown) => x)
      expect(err, String(message)).toBeInstanceOf(LocalKmsError)
      expect((err as LocalKmsError).code).toBe('ERR_LOCAL_KMS_SEED')
      expect((err as Error).message).toMatch(message)
    }
    await expect(LocalKmsEngine.open({ seed: '/nonexistent/seed.json' })).rejects.toThrow(
      /Cannot read the seed file/,
    )
  })
})
