// SealedRecords: records sealed under one service key, validated once, strict to exactly that key. Against a
// small in-memory KMS behind aws-sdk-client-mock (data keys wrapped with AES-GCM under a per-key secret, the
// key ARN and context bound as AAD), so a blob made under another key does not open under the service key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import {
  DecryptCommand,
  DescribeKeyCommand,
  DisabledException,
  GenerateDataKeyCommand,
  type KeyMetadata,
  KMSClient,
} from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  Envelope,
  InvalidKeyError,
  isKmsKeyArn,
  KeyDisabledError,
  KmsKeyring,
  SealedRecordError,
  SealedRecords,
} from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'

const SERVICE_ACCOUNT = '444455556666'
const SERVICE = `arn:aws:kms:us-east-1:${SERVICE_ACCOUNT}:key/11111111-2222-3333-4444-555555555555`
const SERVICE_ALIAS = `arn:aws:kms:us-east-1:${SERVICE_ACCOUNT}:alias/records`
const ATTACKER = 'arn:aws:kms:us-east-1:999988887777:key/99999999-2222-3333-4444-555555555555'
const context = { project: 'p1', object: 'project-record' }

const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const kms = mockClient(client)

/** Per-key secrets and states of the fake KMS. */
let secrets: Map<string, Buffer>
let disabled: Set<string>

function aad(keyId: string, ec: Record<string, string> | undefined): Buffer {
  return Buffer.from(JSON.stringify([keyId, Object.entries(ec ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))]))
}

function arnOf(keyId: string): string {
  return keyId === SERVICE_ALIAS ? SERVICE : keyId
}

function metadata(arn: string): KeyMetadata {
  return {
    Arn: arn,
    KeyId: arn.split('/')[1],
    AWSAccountId: arn.split(':')[4],
    KeyState: disabled.has(arn) ? 'Disabled' : 'Enabled',
    KeySpec: 'SYMMETRIC_DEFAULT',
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyManager: 'CUSTOMER',
  }
}

function refuseDisabled(arn: string): void {
  if (disabled.has(arn)) {
    throw new DisabledException({ $metadata: { httpStatusCode: 400 }, message: `${arn} is disabled.` })
  }
}

beforeEach(() => {
  secrets = new Map([
    [SERVICE, randomBytes(32)],
    [ATTACKER, randomBytes(32)],
  ])
  disabled = new Set()
  kms.reset()
  kms.on(DescribeKeyCommand).callsFake((input: { KeyId: string }) => ({
    KeyMetadata: metadata(arnOf(input.KeyId)),
  }))
  kms
    .on(GenerateDataKeyCommand)
    .callsFake((input: { KeyId: string; EncryptionContext?: Record<string, string> }) => {
      const arn = arnOf(input.KeyId)
      refuseDisabled(arn)
      const plaintext = randomBytes(32)
      const iv = randomBytes(12)
      const c = createCipheriv('aes-256-gcm', secrets.get(arn)!, iv)
      c.setAAD(aad(arn, input.EncryptionContext))
      const blob = Buffer.concat([iv, c.update(plaintext), c.final(), c.getAuthTag()])
      return { Plaintext: Uint8Array.from(plaintext), CiphertextBlob: Uint8Array.from(blob), KeyId: arn }
    })
  kms
    .on(DecryptCommand)
    .callsFake(
      (input: { KeyId: string; CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
        const arn = input.KeyId
        refuseDisabled(arn)
        const blob = Buffer.from(input.CiphertextBlob)
        const d = createDecipheriv('aes-256-gcm', secrets.get(arn)!, blob.subarray(0, 12))
        d.setAAD(aad(arn, input.EncryptionContext))
        d.setAuthTag(blob.subarray(44))
        return { Plaintext: Buffer.concat([d.update(blob.subarray(12, 44)), d.final()]), KeyId: arn }
      },
    )
})

/** How many KMS requests of this operation the fake KMS answered. */
function calls(operation: 'DescribeKey' | 'GenerateDataKey' | 'Decrypt'): number {
  return kms.calls().filter((c) => c.args[0].constructor.name === `${operation}Command`).length
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a refusal'),
    (e: unknown) => e,
  )
}

describe('SealedRecords', () => {
  it('validates the key once (DescribeKey) for any number of seals and opens; one GenerateDataKey per seal, one Decrypt per open', async () => {
    const records = new SealedRecords({ kms: client, keyArn: SERVICE, expectedAccountId: SERVICE_ACCOUNT })
    const sealed = await records.seal({ keyArn: ATTACKER, n: 1 }, context)
    for (let i = 0; i < 5; i++) {
      expect(await records.open(sealed, context)).toEqual({ keyArn: ATTACKER, n: 1 })
    }
    expect(calls('DescribeKey')).toBe(1)
    expect(calls('GenerateDataKey')).toBe(1)
    expect(calls('Decrypt')).toBe(5)
    // Concurrent first uses share the one validation.
    const fresh = new SealedRecords({ kms: client, keyArn: SERVICE })
    await Promise.all([fresh.open(sealed, context), fresh.open(sealed, context), fresh.key()])
    expect(calls('DescribeKey')).toBe(2)
  })

  it('an alias ARN is resolved once: records are sealed under, and accepted from, the key it names', async () => {
    const records = new SealedRecords({ kms: client, keyArn: SERVICE_ALIAS })
    expect((await records.key()).arn).toBe(SERVICE)
    const sealed = await records.seal({ a: 1 }, context)
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]!.args[0].input.KeyId).toBe(SERVICE)
    expect(await new SealedRecords({ kms: client, keyArn: SERVICE }).open(sealed, context)).toEqual({ a: 1 })
  })

  it('forged under another key with the exact context → SealedRecordError TAMPERED, no Decrypt under that key', async () => {
    const forger = new Envelope({
      keyring: new KmsKeyring({ client, generatorKeyId: ATTACKER }),
      cache: false,
    })
    const forged = await forger.encryptJson({ keyArn: ATTACKER }, { context })
    const records = new SealedRecords({ kms: client, keyArn: SERVICE })
    const err = await refusal(records.open(forged, context))
    expect(err).toBeInstanceOf(SealedRecordError)
    expect((err as SealedRecordError).reason).toBe('TAMPERED')
    expect((err as SealedRecordError).sealedUnder).toEqual([ATTACKER])
    expect((err as SealedRecordError).cause).toBeInstanceOf(InvalidKeyError)
    expect(kms.commandCalls(DecryptCommand).map((c) => c.args[0].input.KeyId)).toEqual([])
  })

  it('another context → OTHER_CONTEXT before any Decrypt', async () => {
    const records = new SealedRecords({ kms: client, keyArn: SERVICE })
    const other = await records.seal({}, { project: 'p2', object: 'project-record' })
    const err = await refusal(records.open(other, context))
    expect((err as SealedRecordError).reason).toBe('OTHER_CONTEXT')
    expect(calls('Decrypt')).toBe(0)
  })

  it('a disabled key → KeyDisabledError passes through (at validation, or at Decrypt once validated); a failed validation is retried', async () => {
    const records = new SealedRecords({ kms: client, keyArn: SERVICE })
    const sealed = await records.seal({ ok: true }, context)
    disabled.add(SERVICE)
    // Already validated: KMS refuses the Decrypt, and that is not a record problem.
    expect(await refusal(records.open(sealed, context))).toBeInstanceOf(KeyDisabledError)
    // Not yet validated: DescribeKey says Disabled.
    const later = new SealedRecords({ kms: client, keyArn: SERVICE })
    const err = await refusal(later.open(sealed, context))
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect(err).not.toBeInstanceOf(SealedRecordError)
    expect(calls('Decrypt')).toBe(1)
    // Re-enabled: the next use validates again instead of remembering the failure.
    disabled.delete(SERVICE)
    expect(await later.open(sealed, context)).toEqual({ ok: true })
  })

  it('a key of another account than expectedAccountId is refused before anything is sealed', async () => {
    const records = new SealedRecords({ kms: client, keyArn: SERVICE, expectedAccountId: '111122223333' })
    const err = await refusal(records.seal({}, context))
    expect(err).toBeInstanceOf(InvalidKeyError)
    expect((err as InvalidKeyError).reason).toBe('OWNER')
    expect(calls('GenerateDataKey')).toBe(0)
  })

  it('not a KMS key or alias ARN → ConfigurationError from the constructor', () => {
    expect(() => new SealedRecords({ kms: client, keyArn: 'alias/records' })).toThrow(ConfigurationError)
  })
})

describe('isKmsKeyArn', () => {
  it('accepts key ARNs (uuid, mrk, other partitions) only', () => {
    expect(isKmsKeyArn(SERVICE)).toBe(true)
    expect(
      isKmsKeyArn('arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef'),
    ).toBe(true)
    for (const no of [
      SERVICE_ALIAS,
      '11111111-2222-3333-4444-555555555555',
      'alias/records',
      `${SERVICE}\n`,
      'arn:aws:kms:us-east-1:111122223333:key/not-a-key-id',
      undefined,
      42,
      { arn: SERVICE },
    ]) {
      expect(isKmsKeyArn(no)).toBe(false)
    }
  })
})
