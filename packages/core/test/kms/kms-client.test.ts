import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
} from '@aws-sdk/client-kms'
import {
  assertSecureKmsEndpoint,
  ConfigurationError,
  createKmsClient,
  Envelope,
  isLoopbackHost,
  KeyHierarchy,
  KmsKeyring,
  MemoryKeyStore,
} from '@kms-envelope/core'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'

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

  it('KeyHierarchy checks its client before its first KMS call (scope keys travel in KMS responses too)', async () => {
    const client = new KMSClient({ region: 'us-east-1', endpoint: 'http://kms.internal.example' })
    const kms = mockClient(client)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(8), KeyId: ARN })
    kms.on(GenerateDataKeyWithoutPlaintextCommand).resolves({ CiphertextBlob: new Uint8Array(8), KeyId: ARN })
    kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32), KeyId: ARN })
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        Arn: ARN,
        KeyId: ARN,
        KeyState: 'Enabled',
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
      },
    })
    const hierarchy = new KeyHierarchy({ kms: client, rootKeyId: ARN, store: new MemoryKeyStore() })
    const envelope = new Envelope({ keyring: hierarchy.keyring('customer-42') })
    await expect(envelope.encrypt('x')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(hierarchy.rotate('customer-42')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(hierarchy.rewrap('customer-42', 'alias/other')).rejects.toBeInstanceOf(ConfigurationError)
    const byAlias = new KeyHierarchy({ kms: client, rootKeyId: 'alias/root', store: new MemoryKeyStore() })
    await expect(byAlias.keyring('c').generateDataKey({})).rejects.toBeInstanceOf(ConfigurationError)
    expect(kms.calls()).toHaveLength(0)
  })

  it('KmsKeyring built from { region, endpoint } refuses plain http at construction', () => {
    expect(
      () => new KmsKeyring({ region: 'us-east-1', endpoint: 'http://kms.example.com', generatorKeyId: ARN }),
    ).toThrow(ConfigurationError)
  })
})

describe('assertSecureKmsEndpoint with an endpoint from the environment or the shared config file', () => {
  const saved = { ...process.env }
  const credentials = { accessKeyId: 'a', secretAccessKey: 'b' }
  afterEach(() => {
    for (const k of ['AWS_ENDPOINT_URL_KMS', 'AWS_ENDPOINT_URL', 'AWS_CONFIG_FILE', 'AWS_PROFILE']) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  })

  it('refuses AWS_ENDPOINT_URL_KMS=http://remote, and KmsKeyring makes no KMS call', async () => {
    process.env.AWS_ENDPOINT_URL_KMS = 'http://kms.internal.example:8080'
    const client = new KMSClient({ region: 'us-east-1', credentials })
    const err = await assertSecureKmsEndpoint(client).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigurationError)
    expect((err as Error).message).toMatch(/kms\.internal\.example:8080.*AWS_ENDPOINT_URL_KMS/)
    const kms = mockClient(client)
    kms
      .on(GenerateDataKeyCommand)
      .resolves({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(8), KeyId: ARN })
    await expect(new KmsKeyring({ client, generatorKeyId: ARN }).generateDataKey({})).rejects.toBeInstanceOf(
      ConfigurationError,
    )
    expect(kms.calls()).toHaveLength(0)
  })

  it('refuses AWS_ENDPOINT_URL=http://remote; accepts https and loopback http', async () => {
    process.env.AWS_ENDPOINT_URL = 'http://10.0.0.5'
    await expect(
      assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', credentials })),
    ).rejects.toBeInstanceOf(ConfigurationError)
    process.env.AWS_ENDPOINT_URL = 'https://kms.vpce.example'
    await expect(
      assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', credentials })),
    ).resolves.toBeUndefined()
    process.env.AWS_ENDPOINT_URL_KMS = 'http://127.0.0.1:4599'
    await expect(
      assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', credentials })),
    ).resolves.toBeUndefined()
  })

  it("refuses a profile's endpoint_url in the shared config file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kenv-endpoint-'))
    try {
      const file = join(dir, 'config')
      writeFileSync(file, '[profile remote]\nregion = us-east-1\nendpoint_url = http://kms.lan\n')
      process.env.AWS_CONFIG_FILE = file
      process.env.AWS_PROFILE = 'remote'
      await expect(
        assertSecureKmsEndpoint(new KMSClient({ region: 'us-east-1', credentials })),
      ).rejects.toBeInstanceOf(ConfigurationError)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('passes when the client ignores configured endpoints, or has its own https endpoint', async () => {
    process.env.AWS_ENDPOINT_URL_KMS = 'http://kms.internal.example'
    await expect(
      assertSecureKmsEndpoint(
        new KMSClient({ region: 'us-east-1', credentials, ignoreConfiguredEndpointUrls: true }),
      ),
    ).resolves.toBeUndefined()
    await expect(
      assertSecureKmsEndpoint(
        new KMSClient({ region: 'us-east-1', credentials, endpoint: 'https://kms.example' }),
      ),
    ).resolves.toBeUndefined()
  })
})
