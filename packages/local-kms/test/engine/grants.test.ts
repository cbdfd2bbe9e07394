import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, B, b64, rejects, SERVICE_ROLE, type World, world } from './helpers.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.engine.close())

describe('grants', () => {
  it('CreateGrant returns GrantId + GrantToken; the grantee (another account) can use the key by ARN at once', async () => {
    const arn = await w.newKey()
    await rejects(
      w.call(w.svc, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    const { GrantId, GrantToken } = await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['GenerateDataKey', 'Decrypt'],
      Name: 'profiles',
    })
    expect(GrantId).toMatch(/^[0-9a-f]{64}$/)
    expect(typeof GrantToken).toBe('string')
    const dk = await w.call(w.svc, 'GenerateDataKey', {
      KeyId: arn,
      KeySpec: 'AES_256',
      GrantTokens: [GrantToken],
    })
    expect(
      (await w.call(w.svc, 'Decrypt', { CiphertextBlob: dk.CiphertextBlob, GrantTokens: [GrantToken] }))
        .Plaintext,
    ).toBe(dk.Plaintext)
    // Operations not granted stay denied.
    await rejects(w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') }), 'AccessDeniedException')
    await rejects(w.call(w.svc, 'DescribeKey', { KeyId: arn }), 'AccessDeniedException')
    // Other principals of B are not the grantee.
    await rejects(
      w.call(w.broot, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    // The audit log names the grant that authorized the call.
    const last = w.engine
      .auditLog()
      .filter((e) => e.eventName === 'Decrypt' && e.userIdentity.arn === SERVICE_ROLE)
      .at(-1)
    expect(last?.grantId).toBe(GrantId)
    // Same name and parameters: idempotent.
    const again = await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['GenerateDataKey', 'Decrypt'],
      Name: 'profiles',
    })
    expect(again.GrantId).toBe(GrantId)
  })

  it('a revoked grant stops working at once', async () => {
    const arn = await w.newKey()
    const { GrantId } = await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['Encrypt', 'Decrypt'],
    })
    const { CiphertextBlob } = await w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.root, 'RevokeGrant', { KeyId: arn, GrantId })
    const e = await rejects(w.call(w.svc, 'Decrypt', { CiphertextBlob }), 'AccessDeniedException')
    expect(e.message).toMatch(/grant/)
    await rejects(w.call(w.root, 'RevokeGrant', { KeyId: arn, GrantId }), 'NotFoundException')
    await rejects(w.call(w.svc, 'RevokeGrant', { KeyId: arn, GrantId }), 'AccessDeniedException')
  })

  it('constraints: EncryptionContextEquals and EncryptionContextSubset', async () => {
    const arn = await w.newKey()
    await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['GenerateDataKey'],
      Constraints: { EncryptionContextSubset: { tenant: 'acme' } },
    })
    await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['Decrypt'],
      Constraints: { EncryptionContextEquals: { tenant: 'acme', domain: 'd1' } },
    })
    const gen = (EncryptionContext: Record<string, string>) =>
      w.call(w.svc, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', EncryptionContext })
    const dk = await gen({ tenant: 'acme', domain: 'd1' })
    const other = await gen({ tenant: 'acme', domain: 'd2' })
    await rejects(gen({ tenant: 'globex' }), 'AccessDeniedException')
    await rejects(gen({}), 'AccessDeniedException')
    await w.call(w.svc, 'Decrypt', {
      CiphertextBlob: dk.CiphertextBlob,
      EncryptionContext: { tenant: 'acme', domain: 'd1' },
    })
    await rejects(
      w.call(w.svc, 'Decrypt', {
        CiphertextBlob: other.CiphertextBlob,
        EncryptionContext: { tenant: 'acme', domain: 'd2' },
      }),
      'AccessDeniedException',
    )
    await rejects(
      w.call(w.root, 'CreateGrant', {
        KeyId: arn,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['DescribeKey'],
        Constraints: { EncryptionContextEquals: { a: 'b' } },
      }),
      'ValidationException',
    )
  })

  it('ListGrants (filters, pagination) and ListRetirableGrants', async () => {
    const arn = await w.newKey()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const g = await w.call(w.root, 'CreateGrant', {
        KeyId: arn,
        GranteePrincipal: i === 0 ? `arn:aws:iam::${A}:role/other` : SERVICE_ROLE,
        RetiringPrincipal: `arn:aws:iam::${A}:user/alice`,
        Operations: ['Decrypt'],
        Name: `g${i}`,
      })
      ids.push(g.GrantId)
    }
    const all = await w.call(w.root, 'ListGrants', { KeyId: arn })
    expect(all.Grants.map((g: { GrantId: string }) => g.GrantId).sort()).toEqual([...ids].sort())
    expect(all.Grants[0]).toMatchObject({
      KeyId: arn,
      IssuingAccount: `arn:aws:iam::${A}:root`,
      Operations: ['Decrypt'],
    })
    expect(all.Grants[0].CreationDate).toEqual(expect.any(Number))
    expect(
      (await w.call(w.root, 'ListGrants', { KeyId: arn, GranteePrincipal: SERVICE_ROLE })).Grants,
    ).toHaveLength(2)
    expect((await w.call(w.root, 'ListGrants', { KeyId: arn, GrantId: ids[0] })).Grants).toHaveLength(1)
    const p1 = await w.call(w.root, 'ListGrants', { KeyId: arn, Limit: 2 })
    expect(p1).toMatchObject({ Truncated: true })
    const p2 = await w.call(w.root, 'ListGrants', { KeyId: arn, Limit: 2, Marker: p1.NextMarker })
    expect(p2.Grants).toHaveLength(1)
    const retirable = await w.call(w.alice, 'ListRetirableGrants', {
      RetiringPrincipal: `arn:aws:iam::${A}:user/alice`,
    })
    expect(retirable.Grants.length).toBeGreaterThanOrEqual(3)
    await rejects(
      w.call(w.svc, 'ListRetirableGrants', { RetiringPrincipal: `arn:aws:iam::${A}:user/alice` }),
      'AccessDeniedException',
    )
    await rejects(w.call(w.svc, 'ListGrants', { KeyId: arn }), 'AccessDeniedException')
  })

  it('RetireGrant by token or by key ARN + grant id; only the retiring principal, a grantee with RetireGrant, or the issuing root', async () => {
    const arn = await w.newKey()
    const create = (extra: Record<string, unknown>) =>
      w.call(w.root, 'CreateGrant', {
        KeyId: arn,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['Encrypt'],
        ...extra,
      })
    const g1 = await create({ RetiringPrincipal: `arn:aws:iam::${A}:user/alice` })
    await rejects(w.call(w.svc, 'RetireGrant', { GrantToken: g1.GrantToken }), 'AccessDeniedException')
    await w.call(w.alice, 'RetireGrant', { GrantToken: g1.GrantToken })
    await rejects(w.call(w.alice, 'RetireGrant', { GrantToken: g1.GrantToken }), 'NotFoundException')

    const g2 = await create({ Operations: ['Encrypt', 'RetireGrant'] })
    await w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.svc, 'RetireGrant', { KeyId: arn, GrantId: g2.GrantId })
    await rejects(w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') }), 'AccessDeniedException')

    const g3 = await create({})
    await rejects(
      w.call(w.alice, 'RetireGrant', { KeyId: arn, GrantId: g3.GrantId }),
      'AccessDeniedException',
    )
    await rejects(
      w.call(w.root, 'RetireGrant', { GrantToken: g3.GrantToken, DryRun: true }),
      'DryRunOperationException',
    )
    await w.call(w.root, 'RetireGrant', { GrantToken: g3.GrantToken })
    await rejects(w.call(w.root, 'RetireGrant', {}), 'ValidationException')
    await rejects(w.call(w.root, 'RetireGrant', { GrantToken: 'nonsense' }), 'InvalidGrantTokenException')
  })

  it('a grant with CreateGrant lets the grantee delegate at most its own operations', async () => {
    const arn = await w.newKey()
    await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['CreateGrant', 'Decrypt'],
    })
    await w.call(w.svc, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: `arn:aws:iam::${B}:role/worker`,
      Operations: ['Decrypt'],
    })
    await rejects(
      w.call(w.svc, 'CreateGrant', {
        KeyId: arn,
        GranteePrincipal: `arn:aws:iam::${B}:role/worker`,
        Operations: ['Encrypt'],
      }),
      'AccessDeniedException',
    )
  })

  it('validates operations and principals; refuses a key pending deletion', async () => {
    const arn = await w.newKey()
    await rejects(
      w.call(w.root, 'CreateGrant', { KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: [] }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'CreateGrant', {
        KeyId: arn,
        GranteePrincipal: SERVICE_ROLE,
        Operations: ['PutKeyPolicy'],
      }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'CreateGrant', { KeyId: arn, GranteePrincipal: 'bob', Operations: ['Decrypt'] }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'CreateGrant', { KeyId: arn, Operations: ['Decrypt'] }),
      'ValidationException',
    )
    await w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn })
    await rejects(
      w.call(w.root, 'CreateGrant', { KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] }),
      'KMSInvalidStateException',
    )
  })

  it('an assumed-role session of the grantee role is the grantee', async () => {
    const arn = await w.newKey()
    await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['Encrypt'],
    })
    const session = await w.engine.addAccessKey({
      principalArn: `arn:aws:sts::${B}:assumed-role/profiles-service/session-1`,
      accessKeyId: 'session',
      secretAccessKey: 's',
    })
    await w.call(session, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
  })
})
