import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { evaluateConditions } from '../../src/engine/conditions.js'
import { A, B, b64, rejects, SERVICE_ROLE, type World, world } from './helpers.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.engine.close())

const rootStatement = {
  Sid: 'root',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${A}:root` },
  Action: 'kms:*',
  Resource: '*',
}
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements })

describe('key policy evaluation', () => {
  it('the default policy lets every principal of the key account in, and no one else', async () => {
    const arn = await w.newKey()
    await w.call(w.alice, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    const e = await rejects(
      w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') }),
      'AccessDeniedException',
    )
    expect(e.message).toBe(
      `User: ${SERVICE_ROLE} is not authorized to perform: kms:Encrypt on resource: ${arn} because no resource-based policy allows the kms:Encrypt action (no key policy statement or grant allows it)`,
    )
  })

  it('Deny wins over Allow, and names the explicit deny', async () => {
    const arn = await w.newKey({
      Policy: policy(rootStatement, {
        Effect: 'Deny',
        Principal: { AWS: `arn:aws:iam::${A}:user/alice` },
        Action: ['kms:Decrypt', 'kms:Generate*'],
        Resource: '*',
      }),
    })
    await w.call(w.alice, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    const e = await rejects(
      w.call(w.alice, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    expect(e.message).toMatch(/explicit deny/)
    await rejects(
      w.call(w.alice, 'GenerateDataKeyWithoutPlaintext', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    await w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' })
  })

  it('a Deny also beats a grant', async () => {
    const arn = await w.newKey({
      Policy: policy(rootStatement, {
        Effect: 'Deny',
        Principal: { AWS: SERVICE_ROLE },
        Action: 'kms:Decrypt',
        Resource: '*',
      }),
    })
    await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['Encrypt', 'Decrypt'],
    })
    const { CiphertextBlob } = await w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await rejects(w.call(w.svc, 'Decrypt', { CiphertextBlob }), 'AccessDeniedException')
  })

  it('conditions on the encryption context (StringEquals, ForAllValues, Null)', async () => {
    const arn = await w.newKey({
      Policy: policy(
        rootStatement,
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:GenerateDataKey',
          Resource: '*',
          Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } },
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: {
            'ForAnyValue:StringNotEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] },
          },
        },
      ),
    })
    await rejects(
      w.call(w.alice, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    await w.call(w.alice, 'GenerateDataKey', {
      KeyId: arn,
      KeySpec: 'AES_256',
      EncryptionContext: { tenant: 'acme' },
    })
    await w.call(w.alice, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('x'),
      EncryptionContext: { tenant: 'a', purpose: 'b' },
    })
    await rejects(
      w.call(w.alice, 'Encrypt', { KeyId: arn, Plaintext: b64('x'), EncryptionContext: { other: 'a' } }),
      'AccessDeniedException',
    )
  })

  it('cross-account: B uses A’s key only by full ARN and only where A’s policy allows, with conditions', async () => {
    const arn = await w.newKey({
      Policy: policy(
        rootStatement,
        {
          Effect: 'Allow',
          Principal: { AWS: SERVICE_ROLE },
          Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:EncryptionContext:tenant': 'acme', 'kms:CallerAccount': B } },
        },
        { Effect: 'Allow', Principal: { AWS: SERVICE_ROLE }, Action: 'kms:DescribeKey', Resource: '*' },
      ),
    })
    const id = arn.split('/')[1]!
    await w.call(w.root, 'CreateAlias', { AliasName: 'alias/shared', TargetKeyId: id })
    // Bare id and alias name resolve in the caller's own account.
    await rejects(
      w.call(w.svc, 'GenerateDataKey', {
        KeyId: id,
        KeySpec: 'AES_256',
        EncryptionContext: { tenant: 'acme' },
      }),
      'NotFoundException',
    )
    await rejects(
      w.call(w.svc, 'GenerateDataKey', {
        KeyId: 'alias/shared',
        KeySpec: 'AES_256',
        EncryptionContext: { tenant: 'acme' },
      }),
      'NotFoundException',
    )
    const dk = await w.call(w.svc, 'GenerateDataKey', {
      KeyId: arn,
      KeySpec: 'AES_256',
      EncryptionContext: { tenant: 'acme' },
    })
    // The alias ARN carries the account, as in AWS.
    await w.call(w.svc, 'GenerateDataKey', {
      KeyId: `arn:aws:kms:us-east-1:${A}:alias/shared`,
      KeySpec: 'AES_256',
      EncryptionContext: { tenant: 'acme' },
    })
    await rejects(
      w.call(w.svc, 'GenerateDataKey', {
        KeyId: arn,
        KeySpec: 'AES_256',
        EncryptionContext: { tenant: 'globex' },
      }),
      'AccessDeniedException',
    )
    expect(
      (
        await w.call(w.svc, 'Decrypt', {
          CiphertextBlob: dk.CiphertextBlob,
          EncryptionContext: { tenant: 'acme' },
        })
      ).Plaintext,
    ).toBe(dk.Plaintext)
    // Not allowed: Encrypt, and B's root (a different principal than the one named).
    await rejects(
      w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x'), EncryptionContext: { tenant: 'acme' } }),
      'AccessDeniedException',
    )
    await rejects(
      w.call(w.broot, 'GenerateDataKey', {
        KeyId: arn,
        KeySpec: 'AES_256',
        EncryptionContext: { tenant: 'acme' },
      }),
      'AccessDeniedException',
    )
    // Management operations are never cross-account.
    await rejects(w.call(w.svc, 'DisableKey', { KeyId: arn }), 'NotFoundException')
    expect((await w.call(w.svc, 'DescribeKey', { KeyId: arn })).KeyMetadata.Arn).toBe(arn)
  })

  it('an account root principal in a policy means every principal of that account', async () => {
    const arn = await w.newKey({
      Policy: policy(rootStatement, {
        Effect: 'Allow',
        Principal: { AWS: B },
        Action: 'kms:Encrypt',
        Resource: '*',
      }),
    })
    await w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.broot, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
  })

  it('kms:ViaService and Resource are evaluated', async () => {
    const arn = await w.newKey({
      Policy: policy(
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:root` },
          Action: 'kms:*',
          Resource: '*',
          Condition: { StringEqualsIfExists: { 'kms:ViaService': 'profile.us-east-1.amazonaws.com' } },
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:Decrypt',
          Resource: 'arn:aws:kms:*:*:key/does-not-match',
        },
      ),
    })
    // alice has no ViaService (IfExists holds); app calls via profile: allowed.
    await w.call(w.alice, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.app, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    const other = await w.newKey({
      Policy: policy({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${A}:root` },
        Action: 'kms:*',
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': 'connect.us-east-1.amazonaws.com' } },
      }),
    })
    await rejects(w.call(w.app, 'Encrypt', { KeyId: other, Plaintext: b64('x') }), 'AccessDeniedException')
    await rejects(w.call(w.alice, 'Encrypt', { KeyId: other, Plaintext: b64('x') }), 'AccessDeniedException')
  })

  it('CreateGrant conditions: kms:GrantIsForAWSResource and kms:GrantOperations', async () => {
    const arn = await w.newKey({
      Policy: policy(
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${A}:root` },
          Action: 'kms:*',
          Resource: '*',
          Condition: {},
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:CreateGrant',
          Resource: '*',
          Condition: { Bool: { 'kms:GrantIsForAWSResource': 'false' } },
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 'kms:CreateGrant',
          Resource: '*',
          Condition: { 'ForAnyValue:StringEquals': { 'kms:GrantOperations': ['CreateGrant', 'Encrypt'] } },
        },
      ),
    })
    const grant = { KeyId: arn, GranteePrincipal: SERVICE_ROLE, Operations: ['Decrypt'] }
    await rejects(w.call(w.alice, 'CreateGrant', grant), 'AccessDeniedException')
    await w.call(w.app, 'CreateGrant', grant)
    await rejects(
      w.call(w.app, 'CreateGrant', { ...grant, Operations: ['Decrypt', 'Encrypt'] }),
      'AccessDeniedException',
    )
  })
})

describe('condition operators', () => {
  const lookup = (m: Record<string, string[]>) => (k: string) => m[k]
  it('StringLike, StringNotEquals on absent keys, IfExists, ForAllValues on empty, Bool, case-insensitive keys', () => {
    const req = lookup({
      'kms:encryptioncontext:tenant': ['acme-1'],
      'kms:encryptioncontextkeys': ['tenant'],
    })
    expect(evaluateConditions({ StringLike: { 'kms:EncryptionContext:tenant': 'acme-*' } }, req)).toBe(true)
    expect(evaluateConditions({ StringLike: { 'kms:EncryptionContext:tenant': 'globex-*' } }, req)).toBe(
      false,
    )
    expect(evaluateConditions({ StringEquals: { 'kms:EncryptionContext:missing': 'x' } }, req)).toBe(false)
    expect(evaluateConditions({ StringNotEquals: { 'kms:EncryptionContext:missing': 'x' } }, req)).toBe(true)
    expect(evaluateConditions({ StringEqualsIfExists: { 'kms:EncryptionContext:missing': 'x' } }, req)).toBe(
      true,
    )
    expect(
      evaluateConditions(
        { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'x'] } },
        req,
      ),
    ).toBe(true)
    expect(
      evaluateConditions({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['x'] } }, req),
    ).toBe(false)
    expect(evaluateConditions({ 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['x'] } }, req)).toBe(
      true,
    )
    expect(evaluateConditions({ 'ForAnyValue:StringEquals': { 'kms:GrantOperations': ['x'] } }, req)).toBe(
      false,
    )
    expect(
      evaluateConditions(
        { Bool: { 'kms:GrantIsForAWSResource': true } },
        lookup({ 'kms:grantisforawsresource': ['true'] }),
      ),
    ).toBe(true)
    expect(
      evaluateConditions({ StringEqualsIgnoreCase: { 'kms:encryptioncontext:TENANT': 'ACME-1' } }, req),
    ).toBe(true)
  })
})
