import {
  CreateGrantCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EsdkReader, EsdkWriter } from '../src/index.js'
import { LEGACY, SIGNED, type World, world } from './fixtures.js'

let w: World
let token: string
beforeAll(async () => {
  w = await world()
  // A real grant, so KMS validates the token we pass along.
  const grant = await w.client.send(
    new CreateGrantCommand({
      KeyId: w.keyA,
      GranteePrincipal: 'arn:aws:iam::111122223333:root',
      Operations: ['Decrypt', 'GenerateDataKey'],
    }),
  )
  token = grant.GrantToken!
})
afterAll(() => w.kms.close())

/** A client whose requests are recorded by aws-sdk-client-mock and forwarded to the local KMS. */
function recorded(): { client: KMSClient; mock: ReturnType<typeof mockClient> } {
  const client = w.kms.client()
  const mock = mockClient(client)
  // Each call gets a fresh response object from the real KMS (the ESDK zeroizes the data key it receives).
  mock.on(DecryptCommand).callsFake((input) => w.client.send(new DecryptCommand(input)))
  mock.on(GenerateDataKeyCommand).callsFake((input) => w.client.send(new GenerateDataKeyCommand(input)))
  return { client, mock }
}

describe('the KMS requests', () => {
  it('Decrypt names the key ARN from the message, the full header context and the grant tokens', async () => {
    for (const suiteId of [SIGNED, LEGACY]) {
      const m = await w.esdkEncrypt(Buffer.from('x'), { suiteId, context: { tenant: 'acme' } })
      const { client, mock } = recorded()
      const reader = new EsdkReader({ client, keyIds: [w.keyA], grantTokens: [token] })
      const r = await reader.decrypt(m, { expectedContext: { tenant: 'acme' } })
      const calls = mock.commandCalls(DecryptCommand)
      expect(calls).toHaveLength(1)
      const input = calls[0]!.args[0].input
      expect(input.KeyId).toBe(w.keyA)
      expect(input.GrantTokens).toEqual([token])
      // KMS sees the whole context the ESDK bound, reserved public key included (it is part of the binding).
      expect(input.EncryptionContext).toEqual({ tenant: 'acme', ...r.reservedContext })
      mock.restore()
    }
  })

  it('EsdkWriter: one GenerateDataKey of 32 bytes under the generator ARN, with the context and public key', async () => {
    const { client, mock } = recorded()
    await new EsdkWriter({ client, generatorKeyId: w.keyA, grantTokens: [token] }).encrypt('x', {
      context: { tenant: 'acme' },
    })
    const calls = mock.commandCalls(GenerateDataKeyCommand)
    expect(calls).toHaveLength(1)
    const input = calls[0]!.args[0].input
    expect(input.KeyId).toBe(w.keyA)
    expect(input.NumberOfBytes).toBe(32)
    expect(input.GrantTokens).toEqual([token])
    expect(Object.keys(input.EncryptionContext ?? {}).sort()).toEqual(['aws-crypto-public-key', 'tenant'])
    mock.restore()
  })
})
