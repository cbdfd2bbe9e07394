// Restart on the same data directory loses nothing; a second opener gets the lock error; key material is
// sealed on disk unless the dev opt-in is set.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalKms, LocalKmsError, type SeedFile } from '../../src/index.js'
import { CREDENTIALS, REGION, SEED, SERVICE_ROLE } from './world.js'

const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-kms-e2e-'))
  dirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const httpClient = (endpoint: string, who: keyof typeof CREDENTIALS = 'admin') =>
  new KMSClient({ endpoint, region: REGION, credentials: CREDENTIALS[who], maxAttempts: 1 })

describe('persistence across restarts (HTTP server)', () => {
  it('keys, states, policies, tags, aliases, grants and rotations survive; blobs from before decrypt after', async () => {
    const dataDir = tempDir()
    const first = await LocalKms.create({ dataDir, seed: SEED })
    const server = await first.listen()
    const admin = httpClient(server.endpoint)
    const service = httpClient(server.endpoint, 'service')

    const { KeyMetadata } = await admin.send(
      new CreateKeyCommand({ Description: 'survivor', Tags: [{ TagKey: 'team', TagValue: 'crm' }] }),
    )
    const arn = KeyMetadata!.Arn!
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/survivor', TargetKeyId: arn }))
    const context = { tenant: 'acme' }
    const before = await admin.send(
      new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('kept'), EncryptionContext: context }),
    )
    await admin.send(new RotateKeyOnDemandCommand({ KeyId: arn }))
    const dk = await admin.send(
      new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext: context }),
    )
    const { GrantId } = await admin.send(
      new CreateGrantCommand({
        KeyId: arn,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Decrypt'],
        Constraints: { EncryptionContextSubset: context },
      }),
    )
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'root',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'no-app',
          Effect: 'Deny',
          Principal: { AWS: 'arn:aws:iam::111122223333:role/app' },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    })
    const disabled = (await admin.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!.Arn!
    await admin.send(new DisableKeyCommand({ KeyId: disabled }))
    expect(
      text(
        (
          await service.send(
            new DecryptCommand({ CiphertextBlob: before.CiphertextBlob, EncryptionContext: context }),
          )
        ).Plaintext,
      ),
    ).toBe('kept')

    // A second opener of the same directory, in this process, gets the lock error.
    const locked = await LocalKms.create({ dataDir }).catch((e: unknown) => e)
    expect(locked).toBeInstanceOf(LocalKmsError)
    expect(locked).toMatchObject({ code: 'ERR_LOCAL_KMS_LOCKED' })
    expect((locked as Error).message).toContain(dataDir)

    await first.close()
    await expect(admin.send(new DescribeKeyCommand({ KeyId: arn }))).rejects.toThrow()

    // Restart without the seed: everything comes from the data directory.
    const second = await LocalKms.create({ dataDir })
    const server2 = await second.listen()
    const admin2 = httpClient(server2.endpoint)
    const service2 = httpClient(server2.endpoint, 'service')
    try {
      expect(
        (await admin2.send(new DescribeKeyCommand({ KeyId: 'alias/survivor' }))).KeyMetadata,
      ).toMatchObject({
        Arn: arn,
        Description: 'survivor',
        KeyState: 'Enabled',
      })
      expect((await admin2.send(new DescribeKeyCommand({ KeyId: disabled }))).KeyMetadata?.KeyState).toBe(
        'Disabled',
      )
      const stored = await admin2.send(new GetKeyPolicyCommand({ KeyId: disabled, PolicyName: 'default' }))
      expect(JSON.parse(stored.Policy!)).toEqual(JSON.parse(policy))
      const app = await httpClient(server2.endpoint, 'app')
        .send(new DescribeKeyCommand({ KeyId: disabled }))
        .catch((e: unknown) => e)
      expect((app as Error).name).toBe('AccessDeniedException')
      expect((await admin2.send(new ListResourceTagsCommand({ KeyId: arn }))).Tags).toEqual([
        { TagKey: 'team', TagValue: 'crm' },
      ])
      expect(
        (await admin2.send(new ListAliasesCommand({ KeyId: arn }))).Aliases?.map((a) => a.AliasName),
      ).toEqual(['alias/survivor'])
      expect((await admin2.send(new ListKeyRotationsCommand({ KeyId: arn }))).Rotations).toHaveLength(1)
      const grants = (await admin2.send(new ListGrantsCommand({ KeyId: arn }))).Grants
      expect(grants?.map((g) => [g.GrantId, g.GranteePrincipal])).toEqual([[GrantId, SERVICE_ROLE]])
      // The blob from before the rotation and the restart decrypts, through the persisted grant too.
      const again = await service2.send(
        new DecryptCommand({ CiphertextBlob: before.CiphertextBlob, EncryptionContext: context }),
      )
      expect(text(again.Plaintext)).toBe('kept')
      const key = await admin2.send(
        new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }),
      )
      expect(Buffer.from(key.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!))
      // The persisted grant still enforces its constraint.
      const wrong = await service2
        .send(
          new DecryptCommand({
            CiphertextBlob: before.CiphertextBlob,
            EncryptionContext: { tenant: 'globex' },
          }),
        )
        .catch((e: unknown) => e)
      expect((wrong as Error).name).toMatch(/AccessDeniedException|InvalidCiphertextException/)
      // The audit trail is on disk, one JSON object per line.
      const lines = readFileSync(join(dataDir, 'audit.log'), 'utf8').trim().split('\n')
      const events = lines.map((l) => JSON.parse(l) as { eventName: string; grantId?: string })
      expect(events.some((e) => e.eventName === 'Decrypt' && e.grantId === GrantId)).toBe(true)
    } finally {
      await second.close()
    }
  })

  it('key material is sealed on disk under a 0600 master key unless plaintextKeyMaterial is set', async () => {
    const material = Buffer.alloc(32, 0xa5)
    const seed: SeedFile = {
      ...SEED,
      keys: [{ account: '111122223333', keyId: 'fixed-material-key', material: material.toString('base64') }],
      aliases: [],
    }
    const sealedDir = tempDir()
    await (await LocalKms.create({ dataDir: sealedDir, seed })).close()
    const sealed = readFileSync(join(sealedDir, 'state.json'))
    expect(sealed.includes(material.toString('base64'))).toBe(false)
    expect(sealed.includes(material.toString('hex'))).toBe(false)
    expect(sealed.includes(material)).toBe(false)
    expect(statSync(join(sealedDir, 'master.key')).mode & 0o777).toBe(0o600)

    const devDir = tempDir()
    await (await LocalKms.create({ dataDir: devDir, seed, plaintextKeyMaterial: true })).close()
    expect(readFileSync(join(devDir, 'state.json'), 'utf8')).toContain(material.toString('base64'))
  })
})

function text(bytes: Uint8Array | undefined): string {
  return Buffer.from(bytes ?? new Uint8Array()).toString('utf8')
}
