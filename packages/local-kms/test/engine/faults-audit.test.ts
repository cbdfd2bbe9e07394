import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalKmsEngine } from '../../src/engine/index.js'
import { b64, rejects, SERVICE_ROLE, type World, world } from './helpers.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.engine.close())

describe('faults', () => {
  it('throttles, fails with 500 / 503, for count calls or until clear()', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    w.engine.faults.set({ operations: ['Decrypt'], error: 'ThrottlingException', count: 2 })
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'ThrottlingException')
    await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'ThrottlingException')
    await w.call(w.root, 'Decrypt', { CiphertextBlob })
    w.engine.faults.set({ operations: '*', error: 'KMSInternalException' })
    expect(
      (await rejects(w.call(w.root, 'GenerateRandom', { NumberOfBytes: 8 }), 'KMSInternalException'))
        .statusCode,
    ).toBe(500)
    w.engine.faults.set({ operations: ['GenerateDataKey'], error: 'DependencyTimeoutException' })
    expect(
      (
        await rejects(
          w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
          'DependencyTimeoutException',
        )
      ).statusCode,
    ).toBe(503)
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'KMSInternalException')
    w.engine.faults.clear()
    await w.call(w.root, 'Decrypt', { CiphertextBlob })
  })

  it('delays calls', async () => {
    w.engine.faults.set({ operations: ['GenerateRandom'], delayMs: 120, count: 1 })
    const t0 = performance.now()
    await w.call(w.root, 'GenerateRandom', { NumberOfBytes: 8 })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110)
    const t1 = performance.now()
    await w.call(w.root, 'GenerateRandom', { NumberOfBytes: 8 })
    expect(performance.now() - t1).toBeLessThan(100)
    expect(() => w.engine.faults.set({ operations: '*' })).toThrow(TypeError)
  })
})

describe('audit log', () => {
  it('records every call CloudTrail-style, with context, grant id and error code, never plaintext', async () => {
    const arn = await w.newKey()
    const { GrantId, GrantToken } = await w.call(w.root, 'CreateGrant', {
      KeyId: arn,
      GranteePrincipal: SERVICE_ROLE,
      Operations: ['Encrypt'],
    })
    await w.call(w.svc, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('top secret'),
      EncryptionContext: { tenant: 'acme' },
      GrantTokens: [GrantToken],
    })
    await rejects(
      w.call(w.svc, 'Decrypt', { CiphertextBlob: b64('x'.repeat(64)) }),
      'InvalidCiphertextException',
    )
    await rejects(
      w.call(w.svc, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'AccessDeniedException',
    )
    const log = w.engine.auditLog()
    const enc = log.filter((e) => e.eventName === 'Encrypt').at(-1)!
    expect(enc).toMatchObject({
      eventSource: 'kms.amazonaws.com',
      awsRegion: 'us-east-1',
      userIdentity: { type: 'AssumedRole', arn: SERVICE_ROLE, accountId: '444455556666', accessKeyId: 'svc' },
      requestParameters: { keyId: arn, encryptionContext: { tenant: 'acme' }, grantTokens: [GrantToken] },
      resources: [{ ARN: arn, accountId: '111122223333', type: 'AWS::KMS::Key' }],
      recipientAccountId: '111122223333',
      grantId: GrantId,
      readOnly: true,
    })
    expect(new Date(enc.eventTime).getTime()).toBeGreaterThan(Date.now() - 60_000)
    expect(log.at(-1)).toMatchObject({ eventName: 'GenerateDataKey', errorCode: 'AccessDeniedException' })
    expect(log.at(-2)).toMatchObject({ eventName: 'Decrypt', errorCode: 'InvalidCiphertextException' })
    expect(JSON.stringify(log)).not.toContain(b64('top secret'))
  })

  it('appends one JSON line per call to <dataDir>/audit.log', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lkms-audit-'))
    const e = await LocalKmsEngine.open({ dataDir: d })
    const root = e.resolveAccessKey('test')!.caller
    const arn = ((await e.call('CreateKey', {}, root)).KeyMetadata as { Arn: string }).Arn
    await e.call('GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', EncryptionContext: { k: 'v' } }, root)
    await e.call('DescribeKey', { KeyId: 'nope' }, root).catch(() => undefined)
    await e.close()
    const lines = readFileSync(join(d, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.map((l) => l.eventName)).toEqual(['CreateKey', 'GenerateDataKey', 'DescribeKey'])
    expect(lines[1].requestParameters.encryptionContext).toEqual({ k: 'v' })
    expect(lines[2].errorCode).toBe('NotFoundException')
  })
})
