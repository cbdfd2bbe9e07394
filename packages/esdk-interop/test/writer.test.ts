import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node'
import { CreateKeyCommand, DisableKeyCommand } from '@aws-sdk/client-kms'
import { ConfigurationError, InvalidEncryptionContextError, KeyDisabledError } from '@kms-envelope/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectFormat, EsdkReader, EsdkWriter, esdkSuiteOf } from '../src/index.js'
import { countCalls, esdkKmsFor, type World, world } from './fixtures.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.kms.close())

describe('EsdkWriter', () => {
  it('writes messages the ESDK itself decrypts (signed by default, or committing non-signing)', async () => {
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    const official = new KmsKeyringNode({
      keyIds: [w.keyA],
      clientProvider: () => esdkKmsFor(w.kms, w.client),
    })
    for (const [signed, suite] of [
      [undefined, 0x0578],
      [false, 0x0478],
    ] as const) {
      const writer = new EsdkWriter({ client: w.client, generatorKeyId: w.keyA, frameLength: 16, signed })
      const pt = Buffer.from('a record for a consumer still on the ESDK')
      const m = await writer.encrypt(pt, { context: { tenant: 'acme' } })
      expect(detectFormat(m)).toBe('aws-encryption-sdk')
      expect(esdkSuiteOf(m)?.id).toBe(suite)
      const { plaintext, messageHeader } = await esdk.decrypt(official, m)
      expect(plaintext.equals(pt)).toBe(true)
      expect(messageHeader.encryptionContext.tenant).toBe('acme')
      expect(messageHeader.frameLength).toBe(16)
      const ours = await new EsdkReader({ client: w.client, keyIds: [w.keyA] }).decrypt(m)
      expect(Buffer.from(ours.plaintext).equals(pt)).toBe(true)
    }
  })

  it('wraps the data key under additional keys too', async () => {
    const writer = new EsdkWriter({ client: w.client, generatorKeyId: w.keyA, additionalKeyIds: [w.keyB] })
    const m = await writer.encrypt('both')
    const r = await new EsdkReader({ client: w.client, keyIds: [w.keyB] }).decrypt(m)
    expect(Buffer.from(r.plaintext).toString()).toBe('both')
    expect(r.keyIds).toEqual([w.keyA, w.keyB])
  })

  it('refuses reserved context keys before KMS, names key ARNs only, maps KMS refusals', async () => {
    const client = w.kms.client({ maxAttempts: 1 })
    const calls = countCalls(client)
    const writer = new EsdkWriter({ client, generatorKeyId: w.keyA })
    await expect(
      writer.encrypt('x', { context: { 'aws-crypto-public-key': 'forged' } }),
    ).rejects.toBeInstanceOf(InvalidEncryptionContextError)
    expect(calls.names).toEqual([])
    expect(() => new EsdkWriter({ client, generatorKeyId: 'alias/orders' })).toThrow(ConfigurationError)
    expect(() => new EsdkWriter({ generatorKeyId: w.keyA })).toThrow(ConfigurationError)
    const key = (await w.client.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!
    await w.client.send(new DisableKeyCommand({ KeyId: key }))
    const err = await new EsdkWriter({ client, generatorKeyId: key }).encrypt('x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KeyDisabledError)
    expect((err as KeyDisabledError).keyId).toBe(key)
  })
})
