// Two REAL processes sharing a key store race to create the same key window: exactly one version results,
// and each decrypts the other's data. Once with the FileKeyStore (one directory), once with the DynamoDB
// store (dynalite on loopback). KMS is the local KMS HTTP server. Then crypto-shredding across processes.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { LocalKms } from '@kms-envelope/local-kms'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readHeader } from '../../packages/core/src/envelope/inspect.js'
import { KeyDestroyedError } from '../../packages/core/src/errors/errors.js'
import { FileKeyStore, KeyHierarchy, type KeyStore } from '../../packages/core/src/scope/index.js'
import { createKeyStoreTable, DynamoDbKeyStore } from '../../packages/keystore-dynamodb/src/index.js'
import { type RunningDynalite, startDynalite } from '../../packages/keystore-dynamodb/test/start-dynalite.js'
import { ScopeChild } from './child-process.js'

const HOUR = 3_600_000

let kms: LocalKms
let server: { endpoint: string; close(): Promise<void> }
let admin: KMSClient
let rootKeyId: string
let db: RunningDynalite
const dirs: string[] = []

beforeAll(async () => {
  kms = await LocalKms.create()
  server = await kms.listen()
  admin = kms.client()
  rootKeyId = (await admin.send(new CreateKeyCommand({ Description: 'scope root' }))).KeyMetadata!.Arn!
  db = await startDynalite()
})
afterAll(async () => {
  await server?.close()
  await kms?.close()
  await db?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kenv-mp-'))
  dirs.push(d)
  return d
}

async function raceAndShred(storeConfig: object, store: KeyStore, scopeId: string): Promise<void> {
  const barrier = join(tempDir(), 'barrier')
  mkdirSync(barrier)
  const common = { kmsEndpoint: server.endpoint, rootKeyId, scopeId, keyWindowMs: HOUR, store: storeConfig }
  const a = new ScopeChild({ ...common, name: 'proc-a', barrier: { directory: barrier, parties: 2 } })
  const b = new ScopeChild({ ...common, name: 'proc-b', barrier: { directory: barrier, parties: 2 } })
  try {
    // Both processes find no version, generate a key, and write version 1 at the same moment.
    const [ra, rb] = await Promise.all([
      a.request({ op: 'encrypt', text: 'contact of proc-a' }),
      b.request({ op: 'encrypt', text: 'contact of proc-b' }),
    ])
    expect(ra.ok, ra.message).toBe(true)
    expect(rb.ok, rb.message).toBe(true)
    // A real race: both tried to create; exactly one write won.
    expect([ra.created, rb.created].sort()).toEqual([false, true])
    const versions = await store.listVersions(scopeId)
    expect(versions.map((v) => v.version)).toEqual([1])
    for (const r of [ra, rb]) {
      const edks = readHeader(Buffer.from(r.ct!, 'base64')).encryptedDataKeys
      expect(edks.map((e) => [e.type, e.keyId, [...e.blob]])).toEqual([[2, scopeId, [1]]])
    }
    // Each decrypts the other's data.
    expect(await a.request({ op: 'decrypt', ct: rb.ct })).toEqual({ ok: true, text: 'contact of proc-b' })
    expect(await b.request({ op: 'decrypt', ct: ra.ct })).toEqual({ ok: true, text: 'contact of proc-a' })

    // Crypto-shredding: an operator destroys the scope; both processes (full KMS access) now fail.
    const hierarchy = new KeyHierarchy({ kms: admin, rootKeyId, store, keyWindowMs: HOUR, actor: 'dpo@test' })
    expect(await hierarchy.destroyScope(scopeId, { reason: 'erasure request' })).toEqual([1])
    for (const [child, ct] of [
      [a, rb.ct],
      [b, ra.ct],
    ] as const) {
      const reply = await child.request({ op: 'decrypt', ct })
      expect(reply.ok).toBe(false)
      expect(reply.code).toBe('ERR_KEY_DESTROYED')
      expect(reply.message).toContain('dpo@test')
    }
    expect((await store.getVersion(scopeId, 1))?.wrappedKey).toBeUndefined()
    await expect(
      hierarchy
        .keyring(scopeId)
        .decryptDataKey(readHeader(Buffer.from(ra.ct!, 'base64')).encryptedDataKeys, {}),
    ).rejects.toBeInstanceOf(KeyDestroyedError)
  } finally {
    await Promise.all([a.close(), b.close()])
  }
}

describe('two processes, one key window', () => {
  it('FileKeyStore (one directory): one version, each decrypts the other, shredding holds', async () => {
    const directory = tempDir()
    await raceAndShred({ kind: 'file', directory }, new FileKeyStore({ directory }), 'instance-file')
  }, 120_000)

  it('DynamoDB store (dynalite): one version, each decrypts the other, shredding holds', async () => {
    const client = db.client()
    await createKeyStoreTable(client, 'scope-keys')
    await raceAndShred(
      { kind: 'dynamodb', endpoint: db.endpoint, tableName: 'scope-keys' },
      new DynamoDbKeyStore({ client, tableName: 'scope-keys' }),
      'instance-ddb',
    )
  }, 120_000)
})
