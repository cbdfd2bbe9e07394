// A separate process using scope keys, driven by test/scope/*.test.ts over stdin/stdout (one JSON object per
// line). It reaches KMS through the local KMS HTTP server and shares a key store (a directory or a DynamoDB
// table) with another such process.
//
// argv[2]: { name, kmsEndpoint, rootKeyId, scopeId, keyWindowMs, barrier?, store }
//   barrier: { directory, parties } — createVersion waits until every party reached it (forces a real race)
//   store: { kind: 'file', directory } | { kind: 'dynamodb', endpoint, tableName }
// Commands on stdin: { op: 'encrypt', text } → { ok, ct (base64), created }
//                    { op: 'decrypt', ct } → { ok, text } | { ok: false, code, message }
//                    { op: 'exit' }
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { KMSClient } from '@aws-sdk/client-kms'
import { Envelope, KmsEnvelopeError } from '@kms-envelope/core'
import { FileKeyStore, KeyHierarchy, type KeyStore } from '../../packages/core/src/scope/index.js'
import { DynamoDbKeyStore } from '../../packages/keystore-dynamodb/src/index.js'

interface Config {
  name: string
  kmsEndpoint: string
  rootKeyId: string
  scopeId: string
  keyWindowMs: number
  barrier?: { directory: string; parties: number }
  store: { kind: 'file'; directory: string } | { kind: 'dynamodb'; endpoint: string; tableName: string }
}

const config = JSON.parse(process.argv[2]!) as Config
const send = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`)

function openStore(): KeyStore {
  if (config.store.kind === 'file') return new FileKeyStore({ directory: config.store.directory })
  const client = new DynamoDBClient({
    endpoint: config.store.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  })
  return new DynamoDbKeyStore({ client, tableName: config.store.tableName })
}

async function barrier(): Promise<void> {
  const b = config.barrier
  if (!b || !existsSync(b.directory)) return
  writeFileSync(join(b.directory, config.name), '')
  const deadline = Date.now() + 30_000
  while (readdirSync(b.directory).length < b.parties && Date.now() < deadline) await sleep(2)
}

let created: boolean | undefined
const inner = openStore()
// The store as is, except that createVersion first waits for the other process (see barrier) and records
// whether this process's write won.
const store: KeyStore = {
  getScope: (s) => inner.getScope(s),
  createScope: (r) => inner.createScope(r),
  updateScope: (r, e) => inner.updateScope(r, e),
  listScopes: () => inner.listScopes(),
  getVersion: (s, v) => inner.getVersion(s, v),
  latestVersion: (s) => inner.latestVersion(s),
  listVersions: (s) => inner.listVersions(s),
  createVersion: async (r) => {
    await barrier()
    const result = await inner.createVersion(r)
    created = result.created
    return result
  },
  updateVersion: (r, e) => inner.updateVersion(r, e),
  appendAudit: (e) => inner.appendAudit(e),
  listAudit: (s) => inner.listAudit(s),
}

const kms = new KMSClient({
  endpoint: config.kmsEndpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 2,
})
const hierarchy = new KeyHierarchy({
  kms,
  rootKeyId: config.rootKeyId,
  store,
  keyWindowMs: config.keyWindowMs,
  actor: config.name,
})
const envelope = new Envelope({ keyring: hierarchy.keyring(config.scopeId) })

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string; text?: string; ct?: string }
  try {
    if (cmd.op === 'exit') break
    if (cmd.op === 'encrypt') {
      const ct = await envelope.encrypt(cmd.text!)
      send({ ok: true, ct: Buffer.from(ct).toString('base64'), created })
    } else if (cmd.op === 'decrypt') {
      envelope.purge()
      send({ ok: true, text: await envelope.decryptString(Buffer.from(cmd.ct!, 'base64')) })
    }
  } catch (err) {
    send({
      ok: false,
      code: err instanceof KmsEnvelopeError ? err.code : 'UNEXPECTED',
      message: err instanceof Error ? err.message : String(err),
    })
  }
}
kms.destroy()
process.exit(0)
