import {
  type EncryptedDataKey,
  type EncryptionContext,
  Envelope,
  KeyDisabledError,
  openSealedJson,
  SealedRecordError,
  sealJson,
} from '@kms-envelope/core'
import { describe, expect, it } from 'vitest'
import { TestKeyring } from '../helpers/test-keyring.js'

const SERVICE = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555'
const ATTACKER = 'arn:aws:kms:us-east-1:444455556666:key/99999999-2222-3333-4444-555555555555'
const context = { project: 'p1', object: 'project-record' }

function sealer(keyId = SERVICE) {
  const keyring = new TestKeyring(keyId)
  return { keyring, envelope: new Envelope({ keyring }) }
}

async function problem(promise: Promise<unknown>): Promise<SealedRecordError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(SealedRecordError)
  return err as SealedRecordError
}

describe('sealJson / openSealedJson', () => {
  it('round trip under the exact context', async () => {
    const { envelope } = sealer()
    const bytes = await sealJson(envelope, { keyArn: 'k', n: 1 }, context)
    expect(await openSealedJson(envelope, bytes, context)).toEqual({ keyArn: 'k', n: 1 })
  })

  it("another resource's record → OTHER_CONTEXT before any key is unwrapped, naming what it was sealed for", async () => {
    const { envelope, keyring } = sealer()
    const other = await sealJson(envelope, { keyArn: 'k' }, { project: 'p2', object: 'project-record' })
    const calls = keyring.decryptCalls
    const err = await problem(openSealedJson(new Envelope({ keyring }), other, context))
    expect(err.reason).toBe('OTHER_CONTEXT')
    expect(err.code).toBe('ERR_SEALED_RECORD')
    expect(err.sealedFor).toEqual({ project: 'p2', object: 'project-record' })
    expect(keyring.decryptCalls).toBe(calls)
    // A superset or subset of the context is "another context" too (exact match).
    const extra = await sealJson(envelope, {}, { ...context, more: 'x' })
    expect((await problem(openSealedJson(envelope, extra, context))).reason).toBe('OTHER_CONTEXT')
  })

  it('every flipped byte → TAMPERED or OTHER_CONTEXT, never a value', async () => {
    const { envelope } = sealer()
    const bytes = Buffer.from(await sealJson(envelope, { keyArn: 'k' }, context))
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes)
      bad[i]! ^= 0x01
      const err = await problem(
        openSealedJson(new Envelope({ keyring: new TestKeyring(SERVICE) }), bad, context),
      )
      expect(['TAMPERED', 'OTHER_CONTEXT'], `byte ${i}`).toContain(err.reason)
    }
  })

  it('a record forged under another key, with the exact context → TAMPERED, naming that key', async () => {
    const forged = await sealJson(sealer(ATTACKER).envelope, { keyArn: ATTACKER }, context)
    const err = await problem(openSealedJson(sealer().envelope, forged, context))
    expect(err.reason).toBe('TAMPERED')
    expect(err.sealedUnder).toEqual([ATTACKER])
    // Not a sealed record at all (plain JSON put in its place).
    const plain = Buffer.from(JSON.stringify({ keyArn: ATTACKER }))
    expect((await problem(openSealedJson(sealer().envelope, plain, context))).reason).toBe('TAMPERED')
  })

  it('authentic but not JSON → NOT_JSON; KMS errors pass through unchanged', async () => {
    const { envelope } = sealer()
    const text = await envelope.encrypt('not json {', { context })
    expect((await problem(openSealedJson(envelope, text, context))).reason).toBe('NOT_JSON')
    const bytes = await sealJson(envelope, {}, context)
    const disabled = new (class extends TestKeyring {
      override async decryptDataKey(
        _edks: readonly EncryptedDataKey[],
        _ctx: EncryptionContext,
      ): Promise<never> {
        throw new KeyDisabledError(SERVICE, 'Disabled')
      }
    })(SERVICE)
    await expect(openSealedJson(new Envelope({ keyring: disabled }), bytes, context)).rejects.toBeInstanceOf(
      KeyDisabledError,
    )
  })
})
