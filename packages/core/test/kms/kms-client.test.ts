import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import {
  assertSecureKmsEndpoint,
  ConfigurationError,
  createKmsClient,
  isLoopbackHost,
  KmsKeyring,
} from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { describe, expect, it } from 'vitest'

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'

describe('createKmsClient', () => {
  it.each([
    'http://kms.example.com',
    'http://10.0.0.5:4566',
    'http://128.0.0.1',
    'http://[::2]:4566',
    'http://localhost.example.com',
    'ftp://127.0.0.1',
  ])('refuses %s', (endpoint) => {
    expect(() => createKmsClient({ region: 'us-east-1', endpoint })).toThrow(ConfigurationError)
  })

  it.each([
    'https://kms.us-east-1.amazonaws.com',
    'https://vpce-0123.kms.us-east-1.vpce.amazonaws.com',
    'http://localhost:4566',
    'http://127.0.0.1:4566',
    'http://127.10.20.30',
    'http://[::1]:4566',
  ])('accepts %s', async (endpoint) => {
    const client = createKmsClient({ region: 'us-east-1', endpoint })
    expect(client).toBeInstanceOf(KMSClient)
    await expect(assertSecureKmsEndpoint(client)).resolves.toBeUndefined()
  })

  it('passes region, credentials and maxAttempts to the client', async () => {
    const client = createKmsClient({
      region: 'eu-west-3',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    })
    expect(await client.config.region()).toBe('eu-west-3')
    expect((await client.config.credentials()).accessKeyId).toBe('AKIDEXAMPLE')
    expect(await client.config.maxAttempts()).toBe(1)
  })

  it('refuses a missing region, a non-URL endpoint and a bad maxAttempts', () => {
    expect(() => createKmsClient({ region: '' })).toThrow(ConfigurationError)
    expect(() => createKmsClient({ region: 'us-east-1', endpoint: 'kms.local' })).toThrow(/not a URL/)
    expect(() => createKmsClient({ region: 'us-east-1', maxAttempts: 0 })).toThrow(ConfigurationError)
  })

  it('isLoopbackHost', () => {
    expect(['localhost', '127.0.0.1', '127.255.255.254', '::1', '[::1]'].every(isLoopbackHost)).toBe(true)
    expect(['example.com', '10.0.0.1', '::2', '0.0.0.0', '127.example.com'].some(isLoopbackHost)).toBe(false)
  })
})

describe('assertSecureKmsEndpoint', () => {
  it('refuses a user-built client with a plain-http remote endpoint', async () => {
    const client = new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal.example' })
    await expect(assertSecureKmsEndpoint(client)).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('accepts the default regional endpoint', async () => {
    await expect(assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1' }))).resolves.toBeUndefined()
  })

  it('KmsKeyring checks a user-supplied client before its first KMS call', async () => {
    const client = new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal.example' })
    const kms = mockClient(client)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(8), KeyId: ARN })
    const keyring = new KmsKeyring({ client, generatorKeyId: ARN })
    await expect(keyring.generateDataKey({})).rejects.toBeInstanceOf(ConfigurationError)
    expect(kms.calls()).toHaveLength(0)
    expect(keyring.stats().generateDataKey).toBe(0)
  })

  it('KmsKeyring built from { region, endpoint } refuses plain http at construction', () => {
    expect(
      () => new KmsKeyring({ region: 'us-east-1', endpoint: 'http://kms.example.com', generatorKeyId: ARN }),
    ).toThrow(ConfigurationError)
  })
})
