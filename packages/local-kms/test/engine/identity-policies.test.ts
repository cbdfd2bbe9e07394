import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CallerIdentity, LocalKmsEngine, LocalKmsError } from '../../src/engine/index.js'
import { A, B, b64, rejects } from './helpers.js'
import {
  APP_POLICY,
  doc,
  identitySeed,
  REGION,
  ROLE_APP,
  ROLE_B,
  ROLE_NOVIA,
  USER_B_NOBODY,
  USER_LEGACY,
  USER_NOBODY,
} from './identity-seed.js'

let engine: LocalKmsEngine
const as = (accessKeyId: string): CallerIdentity => engine.resolveAccessKey(accessKeyId)!.caller
// biome-ignore lint/suspicious/noExplicitAny: wire JSON in tests
const call = (who: string, op: string, input: Record<string, unknown> = {}): Promise<any> =>
  engine.call(op, input, as(who))
const keyPolicy = (...statements: object[]) => JSON.stringify(doc(...statements))
const ROOT_STATEMENT = {
  Sid: 'root',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${A}:root` },
  Action: 'kms:*',
  Resource: '*',
}
/** A key of A (created by A's root); default policy (A's root = delegation to IAM) unless given. */
async function newKey(policy?: string): Promise<string> {
  const out = await call('root', 'CreateKey', policy === undefined ? {} : { Policy: policy })
  return out.KeyMetadata.Arn as string
}
const encrypt = (who: string, keyId: string, context?: Record<string, string>) =>
  call(who, 'Encrypt', {
    KeyId: keyId,
    Plaintext: b64('x'),
    ...(context ? { EncryptionContext: context } : {}),
  })
const noIdentity = (arn: string, action: string, key: string) =>
  `User: ${arn} is not authorized to perform: ${action} on resource: ${key} because no identity-based policy allows the ${action} action`

beforeAll(async () => {
  engine = await LocalKmsEngine.open({ seed: identitySeed })
})
afterAll(() => engine.close())

describe('IAM identity policies: same account', () => {
  it('a principal seeded without `policies` keeps the implicit allow-all default', async () => {
    const arn = await newKey()
    expect(engine.principalPolicies(USER_LEGACY)).toBeUndefined()
    await encrypt('legacy', arn)
    await call('legacy', 'ScheduleKeyDeletion', { KeyId: await newKey(), PendingWindowInDays: 7 })
    await call('legacy', 'CreateKey')
    await call('legacy', 'GenerateRandom', { NumberOfBytes: 8 })
  })

  it('`policies: []` gives no IAM permission: the default key policy (account root) is not enough', async () => {
    const arn = await newKey()
    expect(engine.principalPolicies(USER_NOBODY)).toEqual({})
    const e = await rejects(encrypt('nobody', arn), 'AccessDeniedException')
    expect(e.message).toBe(noIdentity(USER_NOBODY, 'kms:Encrypt', arn))
  })

  it('the account root user is never restricted by identity policies', async () => {
    const arn = await newKey()
    await encrypt('root', arn)
    await call('root', 'DisableKey', { KeyId: arn })
  })

  it('key policy naming the account root + an identity policy allowing the action → allowed; other actions refused', async () => {
    const arn = await newKey()
    const { CiphertextBlob } = await encrypt('app', arn)
    await call('app', 'Decrypt', { CiphertextBlob })
    const e = await rejects(call('app', 'DisableKey', { KeyId: arn }), 'AccessDeniedException')
    expect(e.message).toBe(noIdentity(ROLE_APP, 'kms:DisableKey', arn))
  })

  it('a key policy naming the caller ARN directly is enough within the account, without any identity policy', async () => {
    const arn = await newKey(
      keyPolicy(ROOT_STATEMENT, {
        Effect: 'Allow',
        Principal: { AWS: USER_NOBODY },
        Action: 'kms:Encrypt',
        Resource: '*',
      }),
    )
    await encrypt('nobody', arn)
    await rejects(call('nobody', 'DescribeKey', { KeyId: arn }), 'AccessDeniedException')
  })

  it('an assumed-role session uses its role: named directly in the key policy, or through the role identity policies', async () => {
    const session = await engine.addAccessKey({
      principalArn: `arn:aws:sts::${A}:assumed-role/app/s1`,
      accessKeyId: 'app-session',
      secretAccessKey: 's',
    })
    const arn = await newKey()
    await engine.call('Encrypt', { KeyId: arn, Plaintext: b64('x') }, session)
    await rejects(engine.call('DisableKey', { KeyId: arn }, session), 'AccessDeniedException')
    const direct = await newKey(
      keyPolicy(ROOT_STATEMENT, {
        Effect: 'Allow',
        Principal: { AWS: ROLE_APP },
        Action: 'kms:DisableKey',
        Resource: '*',
      }),
    )
    await engine.call('DisableKey', { KeyId: direct }, session)
  })

  it('a session of a role with a path uses that role policies', async () => {
    const role = `arn:aws:iam::${A}:role/team/pathy`
    await engine.putPrincipalPolicy(role, 'p', doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }))
    const session = await engine.addAccessKey({
      principalArn: `arn:aws:sts::${A}:assumed-role/pathy/s2`,
      accessKeyId: 'pathy-session',
      secretAccessKey: 's',
    })
    const arn = await newKey()
    await engine.call('Encrypt', { KeyId: arn, Plaintext: b64('x') }, session)
    await rejects(engine.call('DescribeKey', { KeyId: arn }, session), 'AccessDeniedException')
  })

  it('an explicit Deny in an identity policy wins over a key policy naming the caller and over a grant', async () => {
    const who = `arn:aws:iam::${A}:role/denied`
    const caller = await engine.addAccessKey({
      principalArn: who,
      accessKeyId: 'denied',
      secretAccessKey: 's',
    })
    await engine.putPrincipalPolicy(
      who,
      'deny-decrypt',
      doc(
        { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' },
      ),
    )
    const arn = await newKey(
      keyPolicy(ROOT_STATEMENT, { Effect: 'Allow', Principal: { AWS: who }, Action: 'kms:*', Resource: '*' }),
    )
    await call('root', 'CreateGrant', { KeyId: arn, GranteePrincipal: who, Operations: ['Decrypt'] })
    const { CiphertextBlob } = await engine.call('Encrypt', { KeyId: arn, Plaintext: b64('x') }, caller)
    const e = await rejects(engine.call('Decrypt', { CiphertextBlob }, caller), 'AccessDeniedException')
    expect(e.message).toBe(
      `User: ${who} is not authorized to perform: kms:Decrypt on resource: ${arn} with an explicit deny in an identity-based policy`,
    )
  })

  it('an explicit Deny in the key policy wins over an identity policy allowing the action', async () => {
    const arn = await newKey(
      keyPolicy(ROOT_STATEMENT, {
        Effect: 'Deny',
        Principal: { AWS: ROLE_APP },
        Action: 'kms:Encrypt',
        Resource: '*',
      }),
    )
    const e = await rejects(encrypt('app', arn), 'AccessDeniedException')
    expect(e.message).toMatch(/explicit deny in a resource-based policy$/)
  })

  it('Action wildcards: kms:Generate* covers GenerateDataKey* and GenerateRandom, not Encrypt-like actions', async () => {
    const who = `arn:aws:iam::${A}:user/generator`
    const caller = await engine.addAccessKey({ principalArn: who, accessKeyId: 'gen', secretAccessKey: 's' })
    await engine.putPrincipalPolicy(
      who,
      'gen',
      doc({ Effect: 'Allow', Action: 'kms:generate*', Resource: '*' }),
    )
    const arn = await newKey()
    await engine.call('GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }, caller)
    await engine.call('GenerateDataKeyWithoutPlaintext', { KeyId: arn, KeySpec: 'AES_256' }, caller)
    await engine.call('GenerateRandom', { NumberOfBytes: 16 }, caller)
    await rejects(
      engine.call('Encrypt', { KeyId: arn, Plaintext: b64('x') }, caller),
      'AccessDeniedException',
    )
  })

  it('NotAction: everything but ScheduleKeyDeletion', async () => {
    const who = `arn:aws:iam::${A}:user/not-action`
    const caller = await engine.addAccessKey({
      principalArn: who,
      accessKeyId: 'notaction',
      secretAccessKey: 's',
    })
    await engine.putPrincipalPolicy(
      who,
      'p',
      doc({ Effect: 'Allow', NotAction: 'kms:ScheduleKeyDeletion', Resource: '*' }),
    )
    const arn = await newKey()
    await engine.call('DisableKey', { KeyId: arn }, caller)
    await rejects(
      engine.call('ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 7 }, caller),
      'AccessDeniedException',
    )
  })

  it('Resource: a key ARN allows that key only; wildcards in Resource match key ARNs', async () => {
    const who = `arn:aws:iam::${A}:user/one-key`
    const caller = await engine.addAccessKey({
      principalArn: who,
      accessKeyId: 'onekey',
      secretAccessKey: 's',
    })
    const mine = await newKey()
    const other = await newKey()
    await engine.putPrincipalPolicy(
      who,
      'one',
      doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: mine }),
    )
    await engine.call('Encrypt', { KeyId: mine, Plaintext: b64('x') }, caller)
    await rejects(
      engine.call('Encrypt', { KeyId: other, Plaintext: b64('x') }, caller),
      'AccessDeniedException',
    )
    await engine.putPrincipalPolicy(
      who,
      'one',
      doc({ Effect: 'Allow', Action: 'kms:Encrypt', Resource: `arn:aws:kms:*:${A}:key/*` }),
    )
    await engine.call('Encrypt', { KeyId: other, Plaintext: b64('x') }, caller)
  })

  it('alias ARNs in Resource govern alias operations, not the use of the key through the alias', async () => {
    const arn = await newKey()
    await call('app', 'CreateAlias', { AliasName: 'alias/app-orders', TargetKeyId: arn })
    const e = await rejects(
      call('app', 'CreateAlias', { AliasName: 'alias/billing', TargetKeyId: arn }),
      'AccessDeniedException',
    )
    expect(e.message).toBe(
      noIdentity(ROLE_APP, 'kms:CreateAlias', `arn:aws:kms:${REGION}:${A}:alias/billing`),
    )
    const who = `arn:aws:iam::${A}:user/alias-only`
    const caller = await engine.addAccessKey({
      principalArn: who,
      accessKeyId: 'aliasonly',
      secretAccessKey: 's',
    })
    await engine.putPrincipalPolicy(
      who,
      'p',
      doc({
        Effect: 'Allow',
        Action: 'kms:Encrypt',
        Resource: `arn:aws:kms:${REGION}:${A}:alias/app-orders`,
      }),
    )
    await rejects(
      engine.call('Encrypt', { KeyId: 'alias/app-orders', Plaintext: b64('x') }, caller),
      'AccessDeniedException',
    )
  })

  it('IAM-only operations (CreateKey, ListKeys, ListAliases, GenerateRandom) need an identity policy on *', async () => {
    await call('app', 'ListKeys')
    await call('app', 'ListAliases')
    const e = await rejects(call('app', 'CreateKey'), 'AccessDeniedException')
    expect(e.message).toBe(noIdentity(ROLE_APP, 'kms:CreateKey', '*'))
    await rejects(call('nobody', 'ListKeys'), 'AccessDeniedException')
    await rejects(call('nobody', 'GenerateRandom', { NumberOfBytes: 8 }), 'AccessDeniedException')
    await rejects(
      call('nobody', 'ListRetirableGrants', { RetiringPrincipal: USER_NOBODY }),
      'AccessDeniedException',
    )
  })

  it('conditions in identity policies: kms:EncryptionContext:tenant', async () => {
    const arn = await newKey()
    const { CiphertextBlob } = await encrypt('tenant', arn, { tenant: 'acme' })
    await call('tenant', 'Decrypt', { CiphertextBlob, EncryptionContext: { tenant: 'acme' } })
    await rejects(encrypt('tenant', arn, { tenant: 'globex' }), 'AccessDeniedException')
    await rejects(encrypt('tenant', arn), 'AccessDeniedException')
  })

  it('conditions in identity policies: kms:ViaService', async () => {
    const arn = await newKey()
    await encrypt('via', arn)
    const e = await rejects(encrypt('novia', arn), 'AccessDeniedException')
    expect(e.message).toBe(noIdentity(ROLE_NOVIA, 'kms:Encrypt', arn))
  })

  it('a grant still allows a principal without identity policies (grants are an alternative)', async () => {
    const arn = await newKey()
    const { GrantId } = await call('root', 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: USER_NOBODY,
      Operations: ['Encrypt'],
    })
    await encrypt('nobody', arn)
    expect(engine.auditLog().at(-1)).toMatchObject({ eventName: 'Encrypt', grantId: GrantId })
  })
})

describe('IAM identity policies: across accounts', () => {
  const crossPolicy = (principal: string) =>
    keyPolicy(ROOT_STATEMENT, {
      Effect: 'Allow',
      Principal: { AWS: principal },
      Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'],
      Resource: '*',
    })

  it('the key policy allows account B and the caller identity policy allows the action → allowed', async () => {
    const arn = await newKey(crossPolicy(`arn:aws:iam::${B}:root`))
    const { CiphertextBlob } = await encrypt('reader', arn)
    await call('reader', 'Decrypt', { CiphertextBlob })
  })

  it('the key policy allows account B but the caller has no identity permission → refused (identity message)', async () => {
    const arn = await newKey(crossPolicy(B))
    const e = await rejects(encrypt('bnobody', arn), 'AccessDeniedException')
    expect(e.message).toBe(noIdentity(USER_B_NOBODY, 'kms:Encrypt', arn))
    await encrypt('blegacy', arn)
  })

  it('a key policy naming the caller role directly still needs the identity policy across accounts', async () => {
    const arn = await newKey(
      keyPolicy(ROOT_STATEMENT, {
        Effect: 'Allow',
        Principal: { AWS: USER_B_NOBODY },
        Action: 'kms:Encrypt',
        Resource: '*',
      }),
    )
    await rejects(encrypt('bnobody', arn), 'AccessDeniedException')
    const named = await newKey(crossPolicy(ROLE_B))
    await encrypt('reader', named)
  })

  it('an identity policy alone does not reach another account key the key policy does not open', async () => {
    const arn = await newKey()
    const e = await rejects(encrypt('reader', arn), 'AccessDeniedException')
    expect(e.message).toMatch(/because no resource-based policy allows the kms:Encrypt action/)
    expect(e.message).toContain(`User: ${ROLE_B} `)
  })

  it('a cross-account grant to the caller role allows without identity policy', async () => {
    const arn = await newKey()
    await call('root', 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: USER_B_NOBODY,
      Operations: ['Encrypt'],
    })
    await encrypt('bnobody', arn)
  })
})

describe('IAM identity policies at run time', () => {
  it('revoking and restoring an identity policy takes effect on the next call', async () => {
    const arn = await newKey()
    await encrypt('app', arn)
    expect(await engine.deletePrincipalPolicy(ROLE_APP, 'app')).toBe(true)
    expect(await engine.deletePrincipalPolicy(ROLE_APP, 'app')).toBe(false)
    expect(engine.principalPolicies(ROLE_APP)).toEqual({})
    await rejects(encrypt('app', arn), 'AccessDeniedException')
    await engine.putPrincipalPolicy(ROLE_APP, 'app', APP_POLICY)
    await encrypt('app', arn)
  })

  it('giving a default (allow-all) principal its first policy ends the default', async () => {
    const who = `arn:aws:iam::${A}:user/converted`
    const caller = await engine.addAccessKey({
      principalArn: who,
      accessKeyId: 'converted',
      secretAccessKey: 's',
    })
    const arn = await newKey()
    await engine.call('DisableKey', { KeyId: arn }, caller)
    await engine.putPrincipalPolicy(
      who,
      'describe',
      JSON.stringify(doc({ Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*' })),
    )
    await engine.call('DescribeKey', { KeyId: arn }, caller)
    await rejects(engine.call('EnableKey', { KeyId: arn }, caller), 'AccessDeniedException')
  })

  it('refuses root and session ARNs, bad names and malformed documents with ERR_LOCAL_KMS_POLICY', async () => {
    const attempts: [string, string, unknown][] = [
      [`arn:aws:iam::${A}:root`, 'p', doc({ Effect: 'Allow', Action: '*', Resource: '*' })],
      [`arn:aws:sts::${A}:assumed-role/app/s`, 'p', doc({ Effect: 'Allow', Action: '*', Resource: '*' })],
      [ROLE_APP, 'bad name!', doc({ Effect: 'Allow', Action: '*', Resource: '*' })],
      [ROLE_APP, 'p', doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' })],
      [ROLE_APP, 'p', doc({ Effect: 'Allow', Action: '*' })],
      [ROLE_APP, 'p', doc({ Effect: 'Permit', Action: '*', Resource: '*' })],
      [
        ROLE_APP,
        'p',
        doc({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { NumericEquals: { x: 1 } } }),
      ],
      [ROLE_APP, 'p', '{not json'],
    ]
    for (const [arn, name, document] of attempts) {
      const err = await engine.putPrincipalPolicy(arn, name, document as string).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, `${arn} ${name} ${JSON.stringify(document)}`).toBeInstanceOf(LocalKmsError)
      expect((err as LocalKmsError).code).toBe('ERR_LOCAL_KMS_POLICY')
    }
    expect(Object.keys(engine.principalPolicies(ROLE_APP) ?? {})).toEqual(['app'])
  })
})

describe('IAM identity policies in the seed', () => {
  it('names the faulty path: policies on the root user, a malformed policy, a repeated name', async () => {
    const principal = (extra: object) => ({
      accounts: [
        { id: A, principals: [{ arn: ROLE_APP, accessKeyId: 'x', secretAccessKey: 's', ...extra }] },
      ],
    })
    const cases: [object, RegExp][] = [
      [
        {
          accounts: [
            {
              id: A,
              principals: [
                { arn: `arn:aws:iam::${A}:root`, accessKeyId: 'x', secretAccessKey: 's', policies: [] },
              ],
            },
          ],
        },
        /accounts\[0\]\.principals\[0\]\.policies are only for IAM users and roles/,
      ],
      [principal({ policies: {} }), /accounts\[0\]\.principals\[0\]\.policies must be an array/],
      [
        principal({ policies: [doc({ Effect: 'Allow', Action: '*', Resource: '*' }), { Statement: [] }] }),
        /accounts\[0\]\.principals\[0\]\.policies\[1\] is not a valid identity policy: The policy has no Statement/,
      ],
      [
        principal({
          policies: [
            { name: 'a', document: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) },
            { name: 'a', document: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) },
          ],
        }),
        /policies\[1\] repeats policy name a/,
      ],
    ]
    for (const [seed, message] of cases) {
      const err = await LocalKmsEngine.open({ seed: seed as never }).then(
        async (e) => {
          await e.close()
          return undefined
        },
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(LocalKmsError)
      expect((err as LocalKmsError).code).toBe('ERR_LOCAL_KMS_SEED')
      expect((err as Error).message).toMatch(message)
    }
  })
})
