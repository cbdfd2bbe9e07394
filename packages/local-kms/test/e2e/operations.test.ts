// One suite, two transports: every operation and every error of the local KMS through the real
// @aws-sdk/client-kms, once against the HTTP server (endpoint) and once in process (localKms.client()).
import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalKms } from '../../src/index.js'
import {
  APP_ROLE,
  CREDENTIALS,
  CUSTOMER,
  OTHER,
  REGION,
  SEED,
  SEEDED_KEY_ARN,
  SEEDED_KEY_ID,
  SERVICE,
  SERVICE_ROLE,
  VIA_SERVICE,
  type Who,
} from './world.js'

interface Transport {
  name: string
  /** Starts the transport on a LocalKms; returns a factory of clients signing as a seeded principal. */
  start(
    kms: LocalKms,
  ): Promise<(who: Who, extra?: { region?: string; secretAccessKey?: string }) => KMSClient>
}

const TRANSPORTS: Transport[] = [
  {
    name: 'HTTP server',
    async start(kms) {
      const { endpoint } = await kms.listen({ port: 0 })
      return (who, extra = {}) =>
        new KMSClient({
          endpoint,
          region: extra.region ?? REGION,
          credentials: {
            ...CREDENTIALS[who],
            ...(extra.secretAccessKey ? { secretAccessKey: extra.secretAccessKey } : {}),
          },
          maxAttempts: 1,
        })
    },
  },
  {
    name: 'in process',
    async start(kms) {
      return (who, extra = {}) => kms.client({ ...CREDENTIALS[who], ...extra, maxAttempts: 1 })
    },
  },
]

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(
  promise: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number } }> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  if (outcome.ok) throw new Error(`expected a KMS error, got ${JSON.stringify(outcome.value)}`)
  return outcome.error as Error & { $metadata: { httpStatusCode?: number } }
}

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8')

describe.each(TRANSPORTS)('local KMS over $name', (transport) => {
  let kms: LocalKms
  let as: Awaited<ReturnType<Transport['start']>>
  let admin: KMSClient
  let clockOffsetMs = 0

  beforeAll(async () => {
    kms = await LocalKms.create({ seed: SEED, now: () => Date.now() + clockOffsetMs })
    as = await transport.start(kms)
    admin = as('admin')
  })
  afterAll(async () => {
    await kms.close()
  })

  async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
    const { KeyMetadata } = await admin.send(new CreateKeyCommand(input))
    return KeyMetadata!.Arn!
  }

  describe('keys', () => {
    it('CreateKey / DescribeKey / ListKeys / UpdateKeyDescription', async () => {
      const created = await admin.send(new CreateKeyCommand({ Description: 'e2e' }))
      const meta = created.KeyMetadata!
      expect(meta).toMatchObject({
        AWSAccountId: CUSTOMER,
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeyState: 'Enabled',
        Enabled: true,
        Description: 'e2e',
        Origin: 'AWS_KMS',
        KeyManager: 'CUSTOMER',
      })
      expect(meta.Arn).toBe(`arn:aws:kms:${REGION}:${CUSTOMER}:key/${meta.KeyId}`)
      expect(meta.CreationDate).toBeInstanceOf(Date)
      const described = await admin.send(new DescribeKeyCommand({ KeyId: meta.KeyId }))
      expect(described.KeyMetadata?.Arn).toBe(meta.Arn)
      await admin.send(new UpdateKeyDescriptionCommand({ KeyId: meta.Arn, Description: 'renamed' }))
      expect((await admin.send(new DescribeKeyCommand({ KeyId: meta.Arn }))).KeyMetadata?.Description).toBe(
        'renamed',
      )
      const listed = await admin.send(new ListKeysCommand({}))
      expect(listed.Keys?.map((k) => k.KeyArn)).toEqual(expect.arrayContaining([meta.Arn, SEEDED_KEY_ARN]))
    })

    it('the seeded key and alias exist with their fixed ids', async () => {
      const byAlias = await admin.send(new DescribeKeyCommand({ KeyId: 'alias/seeded' }))
      expect(byAlias.KeyMetadata).toMatchObject({
        KeyId: SEEDED_KEY_ID,
        Arn: SEEDED_KEY_ARN,
        Description: 'seeded key',
      })
    })

    it('unknown keys and aliases are NotFoundException', async () => {
      const err = await failure(
        admin.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' })),
      )
      expect(err.name).toBe('NotFoundException')
      expect(err.$metadata.httpStatusCode).toBe(400)
      expect(
        (await failure(admin.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('x') }))))
          .name,
      ).toBe('NotFoundException')
    })

    it('tags: at creation, TagResource, UntagResource, ListResourceTags', async () => {
      const arn = await newKey({ Tags: [{ TagKey: 'env', TagValue: 'test' }] })
      await admin.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'team', TagValue: 'crm' }] }))
      const tags = await admin.send(new ListResourceTagsCommand({ KeyId: arn }))
      expect(tags.Tags).toEqual(
        expect.arrayContaining([
          { TagKey: 'env', TagValue: 'test' },
          { TagKey: 'team', TagValue: 'crm' },
        ]),
      )
      await admin.send(new UntagResourceCommand({ KeyId: arn, TagKeys: ['env'] }))
      expect((await admin.send(new ListResourceTagsCommand({ KeyId: arn }))).Tags).toEqual([
        { TagKey: 'team', TagValue: 'crm' },
      ])
    })

    it('RSA_2048 and ECC_NIST_P256 keys exist but refuse data-key operations with InvalidKeyUsageException', async () => {
      for (const [KeySpec, KeyUsage] of [
        ['RSA_2048', 'ENCRYPT_DECRYPT'],
        ['ECC_NIST_P256', 'SIGN_VERIFY'],
      ] as const) {
        const arn = await newKey({ KeySpec, KeyUsage })
        const meta = (await admin.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata
        expect(meta).toMatchObject({ KeySpec, KeyUsage, KeyState: 'Enabled' })
        const gdk = await failure(admin.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })))
        expect(gdk.name).toBe('InvalidKeyUsageException')
        const gdkw = await failure(
          admin.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: arn, NumberOfBytes: 32 })),
        )
        expect(gdkw.name).toBe('InvalidKeyUsageException')
      }
    })
  })

  describe('asymmetric keys', () => {
    it('GetPublicKey / Sign / Verify with an ECC_NIST_P256 key; node:crypto verifies the signature independently', async () => {
      const arn = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })
      const message = Buffer.from('order #42')
      const { Signature } = await admin.send(
        new SignCommand({
          KeyId: arn,
          Message: message,
          MessageType: 'RAW',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      )
      const { PublicKey } = await admin.send(new GetPublicKeyCommand({ KeyId: arn }))
      const publicKey = createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' })
      expect(cryptoVerify('sha256', message, publicKey, Buffer.from(Signature!))).toBe(true)
      const ok = await admin.send(
        new VerifyCommand({ KeyId: arn, Message: message, Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
      )
      expect(ok.SignatureValid).toBe(true)
      const bad = await failure(
        admin.send(
          new VerifyCommand({
            KeyId: arn,
            Message: Buffer.from('order #43'),
            Signature,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      )
      expect(bad.name).toBe('KMSInvalidSignatureException')
    })
  })

  describe('crypto', () => {
    it('Encrypt / Decrypt round trip binding the encryption context; Decrypt finds the key in the blob', async () => {
      const arn = await newKey()
      const context = { tenant: 'acme', purpose: 'e2e' }
      const enc = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('secret'), EncryptionContext: context }),
      )
      expect(enc.KeyId).toBe(arn)
      expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT')
      const dec = await admin.send(
        new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }),
      )
      expect(text(dec.Plaintext)).toBe('secret')
      expect(dec.KeyId).toBe(arn)
      // Context key order does not matter.
      const reordered = await admin.send(
        new DecryptCommand({
          CiphertextBlob: enc.CiphertextBlob,
          EncryptionContext: { purpose: 'e2e', tenant: 'acme' },
        }),
      )
      expect(text(reordered.Plaintext)).toBe('secret')
    })

    it('Encrypt accepts 4096 bytes and refuses 4097 with ValidationException', async () => {
      const arn = await newKey()
      const big = await admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.alloc(4096, 1) }))
      expect(
        Buffer.from(
          (await admin.send(new DecryptCommand({ CiphertextBlob: big.CiphertextBlob }))).Plaintext!,
        ),
      ).toEqual(Buffer.alloc(4096, 1))
      expect(
        (await failure(admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.alloc(4097, 1) }))))
          .name,
      ).toBe('ValidationException')
    })

    it('a wrong, missing or extra context, or a tampered blob, is InvalidCiphertextException', async () => {
      const arn = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({
          KeyId: arn,
          Plaintext: Buffer.from('x'),
          EncryptionContext: { tenant: 'acme' },
        }),
      )
      const contexts: (Record<string, string> | undefined)[] = [
        { tenant: 'globex' },
        undefined,
        { tenant: 'acme', extra: '1' },
      ]
      for (const context of contexts) {
        const input = { CiphertextBlob, ...(context ? { EncryptionContext: context } : {}) }
        const err = await failure(admin.send(new DecryptCommand(input)))
        expect(err.name).toBe('InvalidCiphertextException')
        expect(err.$metadata.httpStatusCode).toBe(400)
      }
      const tampered = Buffer.from(CiphertextBlob!)
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1
      const err = await failure(
        admin.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { tenant: 'acme' } })),
      )
      expect(err.name).toBe('InvalidCiphertextException')
    })

    it('Decrypt naming another key is IncorrectKeyException', async () => {
      const a = await newKey()
      const b = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('x') }),
      )
      expect((await failure(admin.send(new DecryptCommand({ CiphertextBlob, KeyId: b })))).name).toBe(
        'IncorrectKeyException',
      )
      expect(text((await admin.send(new DecryptCommand({ CiphertextBlob, KeyId: a }))).Plaintext)).toBe('x')
    })

    it('GenerateDataKey and GenerateDataKeyWithoutPlaintext return keys that Decrypt unwraps', async () => {
      const arn = await newKey()
      const context = { tenant: 'acme' }
      const dk = await admin.send(
        new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext: context }),
      )
      expect(dk.Plaintext).toHaveLength(32)
      expect(dk.KeyId).toBe(arn)
      const unwrapped = await admin.send(
        new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: context }),
      )
      expect(Buffer.from(unwrapped.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!))
      const dk16 = await admin.send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 16 }))
      expect(dk16.Plaintext).toHaveLength(16)
      const noPlain = await admin.send(
        new GenerateDataKeyWithoutPlaintextCommand({ KeyId: arn, KeySpec: 'AES_128' }),
      )
      expect(noPlain).not.toHaveProperty('Plaintext')
      expect(
        (await admin.send(new DecryptCommand({ CiphertextBlob: noPlain.CiphertextBlob }))).Plaintext,
      ).toHaveLength(16)
      const both = await failure(
        admin.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', NumberOfBytes: 32 })),
      )
      expect(both.name).toBe('ValidationException')
    })

    it('GenerateRandom', async () => {
      const a = await admin.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
      const b = await admin.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))
      expect(a.Plaintext).toHaveLength(32)
      expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false)
    })

    it('ReEncrypt moves a ciphertext to another key and context', async () => {
      const a = await newKey()
      const b = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: a, Plaintext: Buffer.from('moved'), EncryptionContext: { v: '1' } }),
      )
      const re = await admin.send(
        new ReEncryptCommand({
          CiphertextBlob,
          SourceEncryptionContext: { v: '1' },
          DestinationKeyId: b,
          DestinationEncryptionContext: { v: '2' },
        }),
      )
      expect(re.SourceKeyId).toBe(a)
      expect(re.KeyId).toBe(b)
      const dec = await admin.send(
        new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { v: '2' } }),
      )
      expect(text(dec.Plaintext)).toBe('moved')
      expect(dec.KeyId).toBe(b)
      const wrong = await failure(
        admin.send(
          new ReEncryptCommand({ CiphertextBlob, SourceEncryptionContext: { v: 'x' }, DestinationKeyId: b }),
        ),
      )
      expect(wrong.name).toBe('InvalidCiphertextException')
    })

    it('DryRun: a request that would succeed is DryRunOperationException (412), nothing happens', async () => {
      const arn = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
      )
      for (const command of [
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), DryRun: true }),
        new DecryptCommand({ CiphertextBlob, DryRun: true }),
        new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', DryRun: true }),
        new GenerateDataKeyWithoutPlaintextCommand({ KeyId: arn, KeySpec: 'AES_256', DryRun: true }),
        new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: arn, DryRun: true }),
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['Decrypt'],
          DryRun: true,
        }),
      ]) {
        // biome-ignore lint/suspicious/noExplicitAny: heterogeneous command list
        const err = await failure(admin.send(command as any))
        expect(err.name).toBe('DryRunOperationException')
        expect(err.$metadata.httpStatusCode).toBe(412)
      }
      expect((await admin.send(new ListGrantsCommand({ KeyId: arn }))).Grants).toEqual([])
      // A request that would fail reports the real error, not DryRun.
      await admin.send(new DisableKeyCommand({ KeyId: arn }))
      const disabled = await failure(
        admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x'), DryRun: true })),
      )
      expect(disabled.name).toBe('DisabledException')
    })
  })

  describe('key states', () => {
    it('a disabled key refuses crypto with DisabledException; EnableKey restores it', async () => {
      const arn = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
      )
      await admin.send(new DisableKeyCommand({ KeyId: arn }))
      expect((await admin.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata).toMatchObject({
        KeyState: 'Disabled',
        Enabled: false,
      })
      expect((await failure(admin.send(new DecryptCommand({ CiphertextBlob })))).name).toBe(
        'DisabledException',
      )
      expect(
        (await failure(admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('y') })))).name,
      ).toBe('DisabledException')
      expect(
        (await failure(admin.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })))).name,
      ).toBe('DisabledException')
      await admin.send(new EnableKeyCommand({ KeyId: arn }))
      expect(text((await admin.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x')
    })

    it('pending deletion: KMSInvalidStateException; cancel leaves it Disabled; the window validates', async () => {
      const arn = await newKey()
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
      )
      expect(
        (await failure(admin.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 6 }))))
          .name,
      ).toBe('ValidationException')
      const scheduled = await admin.send(
        new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }),
      )
      expect(scheduled.KeyState).toBe('PendingDeletion')
      expect(scheduled.DeletionDate).toBeInstanceOf(Date)
      const err = await failure(admin.send(new DecryptCommand({ CiphertextBlob })))
      expect(err.name).toBe('KMSInvalidStateException')
      expect((await failure(admin.send(new EnableKeyCommand({ KeyId: arn })))).name).toBe(
        'KMSInvalidStateException',
      )
      await admin.send(new CancelKeyDeletionCommand({ KeyId: arn }))
      expect((await admin.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata?.KeyState).toBe(
        'Disabled',
      )
      await admin.send(new EnableKeyCommand({ KeyId: arn }))
      expect(text((await admin.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x')
    })
  })

  describe('aliases', () => {
    it('an alias works wherever a key id does; Update, List, Delete; duplicates and reserved names refused', async () => {
      const a = await newKey()
      const b = await newKey()
      const name = `alias/e2e-${transport.name.replace(/\W/g, '')}`
      await admin.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: a }))
      const enc = await admin.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('via alias') }))
      expect(enc.KeyId).toBe(a)
      const aliasArn = `arn:aws:kms:${REGION}:${CUSTOMER}:${name}`
      expect((await admin.send(new DescribeKeyCommand({ KeyId: aliasArn }))).KeyMetadata?.Arn).toBe(a)
      const dk = await admin.send(new GenerateDataKeyCommand({ KeyId: name, KeySpec: 'AES_256' }))
      expect(dk.KeyId).toBe(a)
      const listed = await admin.send(new ListAliasesCommand({ KeyId: a }))
      expect(listed.Aliases?.map((x) => x.AliasName)).toEqual([name])
      expect(listed.Aliases?.[0]?.AliasArn).toBe(aliasArn)
      expect(
        (await failure(admin.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: b })))).name,
      ).toBe('AlreadyExistsException')
      expect(
        (await failure(admin.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: b }))))
          .name,
      ).toBe('InvalidAliasNameException')
      await admin.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: b }))
      expect((await admin.send(new EncryptCommand({ KeyId: name, Plaintext: Buffer.from('y') }))).KeyId).toBe(
        b,
      )
      // Ciphertext from before the update still decrypts (the blob names the key).
      expect(
        text((await admin.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext),
      ).toBe('via alias')
      await admin.send(new DeleteAliasCommand({ AliasName: name }))
      expect((await failure(admin.send(new DescribeKeyCommand({ KeyId: name })))).name).toBe(
        'NotFoundException',
      )
    })
  })

  describe('rotation', () => {
    it('enable/disable/status; on-demand rotation: new material encrypts, old material still decrypts', async () => {
      const arn = await newKey()
      const before = await admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('old') }))
      expect((await admin.send(new GetKeyRotationStatusCommand({ KeyId: arn }))).KeyRotationEnabled).toBe(
        false,
      )
      await admin.send(new EnableKeyRotationCommand({ KeyId: arn, RotationPeriodInDays: 90 }))
      const status = await admin.send(new GetKeyRotationStatusCommand({ KeyId: arn }))
      expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 })
      await admin.send(new RotateKeyOnDemandCommand({ KeyId: arn }))
      const rotations = await admin.send(new ListKeyRotationsCommand({ KeyId: arn }))
      expect(rotations.Rotations).toHaveLength(1)
      expect(rotations.Rotations?.[0]?.RotationType).toBe('ON_DEMAND')
      const after = await admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('new') }))
      expect(Buffer.from(after.CiphertextBlob!).equals(Buffer.from(before.CiphertextBlob!))).toBe(false)
      expect(
        text((await admin.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext),
      ).toBe('old')
      expect(
        text((await admin.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }))).Plaintext),
      ).toBe('new')
      await admin.send(new DisableKeyRotationCommand({ KeyId: arn }))
      expect((await admin.send(new GetKeyRotationStatusCommand({ KeyId: arn }))).KeyRotationEnabled).toBe(
        false,
      )
    })
  })

  describe('grants and cross-account use', () => {
    it('a service principal of another account is refused until a grant allows it, by full key ARN only', async () => {
      const arn = await newKey()
      const keyId = arn.split('/')[1]!
      const service = as('service')
      const refused = await failure(
        service.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })),
      )
      expect(refused.name).toBe('AccessDeniedException')
      const { GrantId, GrantToken } = await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['GenerateDataKey', 'Decrypt'],
        }),
      )
      expect(GrantId).toBeTruthy()
      // Usable at once, with or without the token.
      const dk = await service.send(
        new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', GrantTokens: [GrantToken!] }),
      )
      expect(dk.KeyId).toBe(arn)
      const dec = await service.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, KeyId: arn }))
      expect(Buffer.from(dec.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!))
      // A bare key id or an alias resolves in the caller's own account: NotFound.
      expect(
        (await failure(service.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })))).name,
      ).toBe('NotFoundException')
      expect(
        (
          await failure(
            service.send(new GenerateDataKeyCommand({ KeyId: 'alias/seeded', KeySpec: 'AES_256' })),
          )
        ).name,
      ).toBe('NotFoundException')
      // The grant allows only its operations.
      expect(
        (await failure(service.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })))).name,
      ).toBe('AccessDeniedException')
      // Management operations of another account's key are not reachable at all.
      expect((await failure(service.send(new DisableKeyCommand({ KeyId: arn })))).name).toMatch(
        /NotFoundException|AccessDeniedException/,
      )
      // An unrelated account cannot use it.
      const other = as('other')
      expect(
        (await failure(other.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob })))).name,
      ).toBe('AccessDeniedException')
    })

    it('RevokeGrant stops the grantee at once', async () => {
      const arn = await newKey()
      const service = as('service')
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
      )
      const { GrantId } = await admin.send(
        new CreateGrantCommand({ KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] }),
      )
      expect(text((await service.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x')
      await admin.send(new RevokeGrantCommand({ KeyId: arn, GrantId: GrantId! }))
      const err = await failure(service.send(new DecryptCommand({ CiphertextBlob })))
      expect(err.name).toBe('AccessDeniedException')
      expect(err.message).toContain(SERVICE_ROLE)
      expect((await admin.send(new ListGrantsCommand({ KeyId: arn }))).Grants).toEqual([])
      const events = kms.engine
        .auditLog()
        .filter((e) => e.eventName === 'Decrypt' && e.resources[0]?.ARN === arn)
      expect(events.at(-2)).toMatchObject({ grantId: GrantId })
      expect(events.at(-1)).toMatchObject({ errorCode: 'AccessDeniedException' })
    })

    it('EncryptionContextSubset and EncryptionContextEquals constraints', async () => {
      const arn = await newKey()
      const service = as('service')
      await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['GenerateDataKey'],
          Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
        }),
      )
      await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['Decrypt'],
          Constraints: { EncryptionContextEquals: { tenant: 'acme', domain: 'd1' } },
        }),
      )
      const ok = await service.send(
        new GenerateDataKeyCommand({
          KeyId: arn,
          KeySpec: 'AES_256',
          EncryptionContext: { tenant: 'acme', domain: 'd1' },
        }),
      )
      const refused: Record<string, string>[] = [{ tenant: 'globex' }, {}, { domain: 'd1' }]
      for (const EncryptionContext of refused) {
        expect(
          (
            await failure(
              service.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext })),
            )
          ).name,
        ).toBe('AccessDeniedException')
      }
      const dec = await service.send(
        new DecryptCommand({
          CiphertextBlob: ok.CiphertextBlob,
          EncryptionContext: { tenant: 'acme', domain: 'd1' },
        }),
      )
      expect(dec.Plaintext).toHaveLength(32)
      // Equals: a superset context is not equal.
      const superset = await admin.send(
        new GenerateDataKeyCommand({
          KeyId: arn,
          KeySpec: 'AES_256',
          EncryptionContext: { tenant: 'acme', domain: 'd1', extra: '1' },
        }),
      )
      const err = await failure(
        service.send(
          new DecryptCommand({
            CiphertextBlob: superset.CiphertextBlob,
            EncryptionContext: { tenant: 'acme', domain: 'd1', extra: '1' },
          }),
        ),
      )
      expect(err.name).toBe('AccessDeniedException')
      const grants = await admin.send(new ListGrantsCommand({ KeyId: arn }))
      expect(grants.Grants?.map((g) => g.Constraints)).toEqual(
        expect.arrayContaining([
          { EncryptionContextSubset: { tenant: 'acme' } },
          { EncryptionContextEquals: { tenant: 'acme', domain: 'd1' } },
        ]),
      )
    })

    it('ListRetirableGrants and RetireGrant by the retiring principal', async () => {
      const arn = await newKey()
      const service = as('service')
      const { GrantId, GrantToken } = await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          RetiringPrincipal: SERVICE_ROLE,
          Operations: ['Decrypt'],
          Name: 'retire-me',
        }),
      )
      const retirable = await service.send(
        new ListRetirableGrantsCommand({ RetiringPrincipal: SERVICE_ROLE }),
      )
      expect(retirable.Grants?.map((g) => g.GrantId)).toContain(GrantId)
      const listed = (await admin.send(new ListGrantsCommand({ KeyId: arn }))).Grants?.[0]
      expect(listed).toMatchObject({ GrantId, KeyId: arn, GranteePrincipal: SERVICE_ROLE, Name: 'retire-me' })
      expect(listed?.Operations).toEqual(['Decrypt'])
      // Only the retiring principal (or a grantee with RetireGrant) may retire.
      expect((await failure(as('other').send(new RetireGrantCommand({ GrantToken })))).name).toMatch(
        /AccessDeniedException|NotFoundException/,
      )
      await service.send(new RetireGrantCommand({ GrantToken }))
      expect((await admin.send(new ListGrantsCommand({ KeyId: arn }))).Grants).toEqual([])
    })

    it('a key policy can let another account use the key by ARN (no grant)', async () => {
      const arn = await newKey({
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Effect: 'Allow',
              Principal: { AWS: SERVICE_ROLE },
              Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
              Resource: '*',
              Condition: { StringEquals: { 'kms:ViaService': VIA_SERVICE, 'kms:CallerAccount': SERVICE } },
            },
          ],
        }),
      })
      const service = as('service')
      const dk = await service.send(
        new GenerateDataKeyWithoutPlaintextCommand({ KeyId: arn, KeySpec: 'AES_256' }),
      )
      expect(dk.KeyId).toBe(arn)
      expect(
        (await failure(as('other').send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }))))
          .name,
      ).toBe('AccessDeniedException')
    })
  })

  describe('key policies', () => {
    it('Deny wins over the account-root Allow and over a grant; conditions on the encryption context', async () => {
      const policy = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
          { Effect: 'Deny', Principal: { AWS: APP_ROLE }, Action: 'kms:Decrypt', Resource: '*' },
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 'kms:GenerateDataKey*',
            Resource: '*',
            Condition: { StringEquals: { 'kms:EncryptionContext:classification': 'forbidden' } },
          },
          {
            Effect: 'Deny',
            Principal: { AWS: SERVICE_ROLE },
            Action: 'kms:Decrypt',
            Resource: '*',
            Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'blocked' } },
          },
        ],
      }
      const arn = await newKey()
      await admin.send(
        new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: JSON.stringify(policy) }),
      )
      const stored = await admin.send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }))
      expect(JSON.parse(stored.Policy!)).toEqual(policy)
      const app = as('app')
      const { CiphertextBlob } = await app.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
      )
      const denied = await failure(app.send(new DecryptCommand({ CiphertextBlob })))
      expect(denied.name).toBe('AccessDeniedException')
      expect(denied.message).toMatch(/explicit deny/)
      expect(text((await admin.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x')
      const byContext = await failure(
        admin.send(
          new GenerateDataKeyCommand({
            KeyId: arn,
            KeySpec: 'AES_256',
            EncryptionContext: { classification: 'forbidden' },
          }),
        ),
      )
      expect(byContext.name).toBe('AccessDeniedException')
      await admin.send(
        new GenerateDataKeyCommand({
          KeyId: arn,
          KeySpec: 'AES_256',
          EncryptionContext: { classification: 'ok' },
        }),
      )
      // Deny beats a grant.
      await admin.send(
        new CreateGrantCommand({ KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] }),
      )
      const blocked = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('y'), EncryptionContext: { blocked: '1' } }),
      )
      const service = as('service')
      expect(
        (
          await failure(
            service.send(
              new DecryptCommand({
                CiphertextBlob: blocked.CiphertextBlob,
                EncryptionContext: { blocked: '1' },
              }),
            ),
          )
        ).name,
      ).toBe('AccessDeniedException')
      const allowed = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('z'), EncryptionContext: { ok: '1' } }),
      )
      expect(
        text(
          (
            await service.send(
              new DecryptCommand({ CiphertextBlob: allowed.CiphertextBlob, EncryptionContext: { ok: '1' } }),
            )
          ).Plaintext,
        ),
      ).toBe('z')
    })

    it('a malformed policy is MalformedPolicyDocumentException', async () => {
      const arn = await newKey()
      const err = await failure(
        admin.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: '{"nope":' })),
      )
      expect(err.name).toBe('MalformedPolicyDocumentException')
    })
  })

  describe("names special in JavaScript ('__proto__', 'constructor', 'toString') are ordinary strings", () => {
    /** A context with these keys as own pairs (a `{ __proto__: ... }` literal would set the prototype). */
    const ownPairs = (pairs: [string, string][]): Record<string, string> => Object.fromEntries(pairs)

    it('Encrypt / Decrypt bind a context keyed __proto__ and constructor like any other', async () => {
      const arn = await newKey()
      const context = ownPairs([
        ['__proto__', 'x'],
        ['constructor', 'y'],
      ])
      const { CiphertextBlob } = await admin.send(
        new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('secret'), EncryptionContext: context }),
      )
      const dec = await admin.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }))
      expect(text(dec.Plaintext)).toBe('secret')
      const wrong = [
        ownPairs([['constructor', 'y']]),
        ownPairs([['__proto__', 'x']]),
        ownPairs([
          ['__proto__', 'x'],
          ['constructor', 'other'],
        ]),
        {},
      ]
      for (const EncryptionContext of wrong) {
        const err = await failure(admin.send(new DecryptCommand({ CiphertextBlob, EncryptionContext })))
        expect(err.name).toBe('InvalidCiphertextException')
      }
    })

    it('a grant constrained by EncryptionContextEquals { constructor } allows exactly that context', async () => {
      const arn = await newKey()
      const service = as('service')
      await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['GenerateDataKey'],
          Constraints: { EncryptionContextEquals: ownPairs([['constructor', 'c']]) },
        }),
      )
      await admin.send(
        new CreateGrantCommand({
          KeyId: arn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['Encrypt'],
          Constraints: { EncryptionContextSubset: ownPairs([['toString', 't']]) },
        }),
      )
      const gdk = (EncryptionContext: Record<string, string>) =>
        service.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', EncryptionContext }))
      const ok = await gdk(ownPairs([['constructor', 'c']]))
      expect(ok.Plaintext).toHaveLength(32)
      const refused = [
        {},
        ownPairs([['constructor', 'other']]),
        ownPairs([['other', 'c']]),
        ownPairs([
          ['constructor', 'c'],
          ['toString', 't'],
        ]),
      ]
      for (const context of refused) expect((await failure(gdk(context))).name).toBe('AccessDeniedException')
      const encrypt = (EncryptionContext: Record<string, string>) =>
        service.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('p'), EncryptionContext }))
      await encrypt(
        ownPairs([
          ['toString', 't'],
          ['tenant', 'acme'],
        ]),
      )
      for (const context of [{}, ownPairs([['toString', 'other']]), ownPairs([['valueOf', 't']])])
        expect((await failure(encrypt(context))).name).toBe('AccessDeniedException')
      const grants = await admin.send(new ListGrantsCommand({ KeyId: arn }))
      expect(grants.Grants?.map((g) => g.Constraints)).toEqual(
        expect.arrayContaining([
          { EncryptionContextEquals: { constructor: 'c' } },
          { EncryptionContextSubset: { toString: 't' } },
        ]),
      )
    })

    it('a key policy condition on kms:EncryptionContext:constructor sees only the request context', async () => {
      const arn = await newKey()
      const policy = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 'kms:Encrypt',
            Resource: '*',
            Condition: { Null: { 'kms:EncryptionContext:constructor': 'true' } },
          },
        ],
      }
      await admin.send(
        new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: JSON.stringify(policy) }),
      )
      const encrypt = (EncryptionContext: Record<string, string>) =>
        admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('p'), EncryptionContext }))
      expect((await failure(encrypt({ tenant: 'acme' }))).name).toBe('AccessDeniedException')
      await encrypt(ownPairs([['constructor', 'y']]))
    })

    it('a policy operator named like an Object member is MalformedPolicyDocumentException', async () => {
      const arn = await newKey()
      for (const operator of ['constructor', 'toString', '__proto__', 'hasOwnPropertyIfExists']) {
        const policy = JSON.stringify({
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` },
              Action: 'kms:*',
              Resource: '*',
              Condition: { [operator]: { 'kms:EncryptionContext:a': 'b' } },
            },
          ],
        })
        const err = await failure(
          admin.send(new PutKeyPolicyCommand({ KeyId: arn, PolicyName: 'default', Policy: policy })),
        )
        expect(err.name).toBe('MalformedPolicyDocumentException')
      }
      // The key is still usable: the refused policies were not stored.
      await admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('p') }))
    })

    it('tag keys and enum members named like Object members are ordinary strings', async () => {
      const arn = await newKey({ Tags: [{ TagKey: 'constructor', TagValue: 'c' }] })
      await admin.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: '__proto__', TagValue: 'p' }] }))
      const tags = await admin.send(new ListResourceTagsCommand({ KeyId: arn }))
      expect(tags.Tags).toEqual(
        expect.arrayContaining([
          { TagKey: 'constructor', TagValue: 'c' },
          { TagKey: '__proto__', TagValue: 'p' },
        ]),
      )
      for (const KeySpec of ['constructor', 'toString', '__proto__']) {
        const err = await failure(admin.send(new CreateKeyCommand({ KeySpec: KeySpec as 'RSA_2048' })))
        expect(err.$metadata.httpStatusCode).toBe(400)
      }
      const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })
      for (const EncryptionAlgorithm of ['constructor', 'toString', '__proto__']) {
        const err = await failure(
          admin.send(
            new EncryptCommand({
              KeyId: rsa,
              Plaintext: Buffer.from('p'),
              EncryptionAlgorithm: EncryptionAlgorithm as 'RSAES_OAEP_SHA_256',
            }),
          ),
        )
        expect(err.name).toBe('InvalidKeyUsageException')
      }
    })
  })

  describe('authentication', () => {
    it('unknown access key, wrong secret, wrong region: the SDK sees the real errors', async () => {
      const unknown = new KMSClient({
        region: REGION,
        credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' },
        maxAttempts: 1,
        ...(transport.name === 'HTTP server'
          ? { endpoint: (await kms.listen({ port: 0 })).endpoint }
          : { endpoint: 'http://127.0.0.1', requestHandler: as('admin').config.requestHandler }),
      })
      const u = await failure(unknown.send(new ListKeysCommand({})))
      expect(u.name).toBe('UnrecognizedClientException')
      expect(u.message).toBe('The security token included in the request is invalid.')
      const wrongSecret = await failure(
        as('admin', { secretAccessKey: 'wrong' }).send(new ListKeysCommand({})),
      )
      expect(wrongSecret.name).toBe('InvalidSignatureException')
      const wrongRegion = await failure(as('admin', { region: 'eu-west-1' }).send(new ListKeysCommand({})))
      expect(wrongRegion.name).toBe('InvalidSignatureException')
    })
  })

  describe('faults', () => {
    it('throttling, internal errors and timeouts reach the SDK with their status; delays slow calls; count retires', async () => {
      const arn = await newKey()
      const cases = [
        ['ThrottlingException', 400],
        ['KMSInternalException', 500],
        ['DependencyTimeoutException', 503],
      ] as const
      try {
        for (const [error, status] of cases) {
          kms.engine.faults.set({ operations: ['GenerateDataKey'], error })
          const err = await failure(
            admin.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })),
          )
          expect(err.name).toBe(error)
          expect(err.$metadata.httpStatusCode).toBe(status)
          // Other operations are unaffected.
          await admin.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }))
          kms.engine.faults.clear()
        }
        kms.engine.faults.set({ operations: ['Decrypt'], error: 'ThrottlingException', count: 1 })
        const { CiphertextBlob } = await admin.send(
          new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') }),
        )
        expect((await failure(admin.send(new DecryptCommand({ CiphertextBlob })))).name).toBe(
          'ThrottlingException',
        )
        expect(text((await admin.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x')
        kms.engine.faults.set({ operations: '*', delayMs: 150 })
        const started = performance.now()
        await admin.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))
        expect(performance.now() - started).toBeGreaterThanOrEqual(140)
      } finally {
        kms.engine.faults.clear()
      }
    })

    it('the SDK retries a throttled call when allowed to', async () => {
      const arn = await newKey()
      const retrying =
        transport.name === 'in process'
          ? kms.client({ maxAttempts: 3, retryMode: 'standard' })
          : new KMSClient({
              endpoint: (await kms.listen({ port: 0 })).endpoint,
              region: REGION,
              credentials: CREDENTIALS.admin,
              maxAttempts: 3,
            })
      kms.engine.faults.set({ operations: ['GenerateDataKey'], error: 'ThrottlingException', count: 2 })
      try {
        const dk = await retrying.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }))
        expect(dk.$metadata.attempts).toBe(3)
      } finally {
        kms.engine.faults.clear()
      }
    })
  })

  describe('audit log', () => {
    it('records each call: time, event, principal, key ARN, context, grant id, error code', async () => {
      const arn = await newKey()
      await admin.send(
        new GenerateDataKeyCommand({
          KeyId: arn,
          KeySpec: 'AES_256',
          EncryptionContext: { tenant: 'audit' },
        }),
      )
      await failure(as('other').send(new DescribeKeyCommand({ KeyId: arn })))
      const events = kms.engine
        .auditLog()
        .filter((e) => e.resources.some((r) => r.ARN === arn) || e.requestParameters.keyId === arn)
      const gdk = events.find((e) => e.eventName === 'GenerateDataKey')
      expect(gdk).toMatchObject({
        eventSource: 'kms.amazonaws.com',
        awsRegion: REGION,
        userIdentity: { arn: `arn:aws:iam::${CUSTOMER}:root`, accountId: CUSTOMER },
        recipientAccountId: CUSTOMER,
      })
      expect(Date.parse(gdk!.eventTime)).toBeGreaterThan(Date.now() - 60_000)
      expect(JSON.stringify(gdk)).toContain('audit')
      expect(gdk).not.toHaveProperty('errorCode')
      const denied = kms.engine
        .auditLog()
        .filter((e) => e.userIdentity.accountId === OTHER && e.eventName === 'DescribeKey')
      expect(denied.at(-1)?.errorCode).toMatch(/NotFoundException|AccessDeniedException/)
    })
  })

  describe('time', () => {
    it('a key whose deletion window passed is gone: NotFoundException', async () => {
      const arn = await newKey()
      await admin.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }))
      clockOffsetMs += 8 * 86_400_000
      try {
        expect((await failure(admin.send(new DescribeKeyCommand({ KeyId: arn })))).name).toBe(
          'NotFoundException',
        )
      } finally {
        clockOffsetMs -= 8 * 86_400_000
      }
    })
  })
})
