// Grant eventual consistency (EngineOptions.grantPropagationMs): a new grant authorizes a request only when
// the request carries its grant token, until the propagation delay has passed.
import { CreateGrantCommand, CreateKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalKms, LocalKmsEngine, LocalKmsError } from '../../src/index.js'
import { b64, rejects, SERVICE_ROLE, twoAccountSeed, type World, world } from './helpers.js'

const DELAY = 30_000

let w: World
let now = 1_700_000_000_000
const opened: World[] = []
/** An engine with the two-account seed and the test's clock, closed after the test. */
async function open(options: Parameters<typeof world>[0] = {}): Promise<World> {
  w = await world({ now: () => now, ...options })
  opened.push(w)
  return w
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.engine.close()
})

async function grant(keyArn: string, operations: string[], extra: Record<string, unknown> = {}) {
  return (await w.call(w.root, 'CreateGrant', {
    KeyId: keyArn,
    GranteePrincipal: SERVICE_ROLE,
    Operations: operations,
    ...extra,
  })) as { GrantId: string; GrantToken: string }
}

describe('grant propagation delay', () => {
  it('a new grant works only with its token until the delay has passed, then without', async () => {
    await open({ grantPropagationMs: DELAY })
    const arn = await w.newKey()
    const { GrantId, GrantToken } = await grant(arn, ['GenerateDataKey', 'Decrypt'])
    const gdk = (tokens?: string[]) =>
      w.call(w.svc, 'GenerateDataKey', {
        KeyId: arn,
        KeySpec: 'AES_256',
        ...(tokens ? { GrantTokens: tokens } : {}),
      })
    await rejects(gdk(), 'AccessDeniedException')
    const dk = await gdk([GrantToken])
    expect(w.engine.auditLog().at(-1)?.grantId).toBe(GrantId)
    await rejects(w.call(w.svc, 'Decrypt', { CiphertextBlob: dk.CiphertextBlob }), 'AccessDeniedException')
    expect(
      (await w.call(w.svc, 'Decrypt', { CiphertextBlob: dk.CiphertextBlob, GrantTokens: [GrantToken] }))
        .Plaintext,
    ).toBe(dk.Plaintext)

    now += DELAY - 1
    await rejects(gdk(), 'AccessDeniedException')
    now += 1
    await gdk()
    expect(w.engine.auditLog().at(-1)?.grantId).toBe(GrantId)
  })

  it('tokens of other grants are accepted but do not stand in for this one; a malformed token is refused', async () => {
    await open({ grantPropagationMs: DELAY })
    const arn = await w.newKey()
    const other = await w.newKey()
    const mine = await grant(arn, ['GenerateDataKey'])
    const unrelated = await grant(other, ['Encrypt'])
    const gdk = (tokens: string[]) =>
      w.call(w.svc, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', GrantTokens: tokens })
    await rejects(gdk([unrelated.GrantToken]), 'AccessDeniedException')
    await gdk([unrelated.GrantToken, mine.GrantToken])
    // The token of a grant that no longer exists is still a well-formed token: accepted, and no use.
    await w.call(w.root, 'RevokeGrant', { KeyId: other, GrantId: unrelated.GrantId })
    await gdk([unrelated.GrantToken, mine.GrantToken])
    await rejects(gdk(['not-a-grant-token', mine.GrantToken]), 'InvalidGrantTokenException')
  })

  it('covers every grant operation: DescribeKey, ReEncrypt on both keys, CreateGrant', async () => {
    await open({ grantPropagationMs: DELAY })
    const from = await w.newKey()
    const to = await w.newKey()
    const describe = await grant(from, ['DescribeKey'])
    await rejects(w.call(w.svc, 'DescribeKey', { KeyId: from }), 'AccessDeniedException')
    await w.call(w.svc, 'DescribeKey', { KeyId: from, GrantTokens: [describe.GrantToken] })
    await rejects(
      w.call(w.svc, 'DescribeKey', { KeyId: from, GrantTokens: ['bogus'] }),
      'InvalidGrantTokenException',
    )

    const blob = (await w.call(w.root, 'Encrypt', { KeyId: from, Plaintext: b64('secret') })).CiphertextBlob
    const reFrom = await grant(from, ['ReEncryptFrom'])
    const reTo = await grant(to, ['ReEncryptTo'])
    const reEncrypt = (tokens: string[]) =>
      w.call(w.svc, 'ReEncrypt', { CiphertextBlob: blob, DestinationKeyId: to, GrantTokens: tokens })
    await rejects(reEncrypt([reFrom.GrantToken]), 'AccessDeniedException')
    await rejects(reEncrypt([reTo.GrantToken]), 'AccessDeniedException')
    expect((await reEncrypt([reFrom.GrantToken, reTo.GrantToken])).KeyId).toBe(to)

    // A grant that lets the grantee create grants: it needs its token too.
    const delegate = await grant(from, ['CreateGrant', 'Decrypt'])
    const sub = { KeyId: from, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] }
    await rejects(w.call(w.svc, 'CreateGrant', sub), 'AccessDeniedException')
    await w.call(w.svc, 'CreateGrant', { ...sub, GrantTokens: [delegate.GrantToken] })
  })

  it('does not touch key-policy access, and the grant is listed and retirable at once', async () => {
    await open({ grantPropagationMs: DELAY })
    const arn = await w.newKey()
    await w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' })
    const g = await grant(arn, ['Decrypt'], { RetiringPrincipal: SERVICE_ROLE })
    const listed = await w.call(w.root, 'ListGrants', { KeyId: arn })
    expect(listed.Grants.map((e: { GrantId: string }) => e.GrantId)).toEqual([g.GrantId])
    await w.call(w.svc, 'RetireGrant', { GrantToken: g.GrantToken })
    expect((await w.call(w.root, 'ListGrants', { KeyId: arn })).Grants).toEqual([])
  })

  it('default 0: a grant is effective at once', async () => {
    await open()
    const arn = await w.newKey()
    await grant(arn, ['GenerateDataKey'])
    await w.call(w.svc, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' })
  })

  it('refuses an invalid delay', async () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = await LocalKmsEngine.open({ seed: twoAccountSeed, grantPropagationMs: bad }).catch(
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(LocalKmsError)
      expect((err as LocalKmsError).code).toBe('ERR_LOCAL_KMS_OPTION')
    }
  })

  it('over HTTP, through the real KMSClient', async () => {
    const kms = await LocalKms.create({ seed: twoAccountSeed, grantPropagationMs: DELAY })
    try {
      const { endpoint } = await kms.listen({ port: 0 })
      const client = (accessKeyId: string, secretAccessKey: string) =>
        new KMSClient({
          endpoint,
          region: kms.region,
          credentials: { accessKeyId, secretAccessKey },
          maxAttempts: 1,
        })
      const customer = client('test', 'test')
      const service = client('svc', 'svc-secret')
      const keyArn = (await customer.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
      const { GrantToken } = await customer.send(
        new CreateGrantCommand({
          KeyId: keyArn,
          GranteePrincipal: SERVICE_ROLE,
          Operations: ['GenerateDataKey'],
        }),
      )
      await expect(
        service.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' })),
      ).rejects.toMatchObject({ name: 'AccessDeniedException' })
      const out = await service.send(
        new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', GrantTokens: [GrantToken!] }),
      )
      expect(out.Plaintext?.length).toBe(32)
      await expect(
        service.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', GrantTokens: ['x'] })),
      ).rejects.toMatchObject({ name: 'InvalidGrantTokenException' })
    } finally {
      await kms.close()
    }
  })
})
