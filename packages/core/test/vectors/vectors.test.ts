import { readFileSync } from 'node:fs'
import {
  type DecryptedDataKey,
  type EncryptedDataKey,
  Envelope,
  type GeneratedDataKey,
  inspect,
  type Keyring,
} from '@kms-envelope/core'
import { describe, expect, it } from 'vitest'
import { DataKeyMaterial } from '../../src/envelope/material.js'
import { sealSingle } from '../../src/envelope/message.js'
import { Suite } from '../../src/format/constants.js'
import { canonicalContext, encodeContextBlock } from '../../src/format/context.js'
import { refDecryptSingle, refEncrypt } from './reference.js'

interface Vector {
  description: string
  dataKeyHex: string
  nonceHex: string
  context: Record<string, string>
  edks: Array<{ type: number; keyId: string; blobHex: string }>
  frameLength: number
  plaintextHex: string
  messageHex: string
  compact?: boolean
}

const { vectors } = JSON.parse(readFileSync(new URL('./v1.vectors.json', import.meta.url), 'utf8')) as {
  vectors: Vector[]
}

/** A keyring that knows the vector's data key and checks it is asked for exactly the vector's wrapped keys. */
function vectorKeyring(v: Vector): Keyring {
  return {
    partition: 'vector',
    async generateDataKey(): Promise<GeneratedDataKey> {
      throw new Error('not used')
    },
    async decryptDataKey(edks: readonly EncryptedDataKey[]): Promise<DecryptedDataKey> {
      expect(
        edks.map((e) => ({ type: e.type, keyId: e.keyId, blobHex: Buffer.from(e.blob).toString('hex') })),
      ).toEqual(v.edks)
      return { plaintextKey: Buffer.from(v.dataKeyHex, 'hex'), encryptedDataKey: edks[0]! }
    },
  }
}

describe('known-answer vectors (format v1)', () => {
  it('has vectors, compact ones among them', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(8)
    expect(vectors.filter((v) => v.compact).length).toBeGreaterThanOrEqual(2)
  })

  for (const v of vectors) {
    it(`library decrypts: ${v.description}`, async () => {
      const envelope = new Envelope({ keyring: vectorKeyring(v), cache: false })
      const result = await envelope.decrypt(
        Buffer.from(v.messageHex, 'hex'),
        v.compact ? { context: v.context } : {},
      )
      expect(Buffer.from(result.plaintext).toString('hex')).toBe(v.plaintextHex)
      expect({ ...result.context }).toEqual(v.context)
      const info = inspect(Buffer.from(v.messageHex, 'hex'))
      expect(info.framed).toBe(v.frameLength > 0)
      expect(info.contextStored).toBe(!v.compact)
      expect(info.encryptedDataKeys.map((k) => k.keyId)).toEqual(v.edks.map((e) => e.keyId))
      for (const [i, e] of v.edks.entries()) {
        if (e.type === 2) expect(info.encryptedDataKeys[i]).toMatchObject({ type: 'scope-key', version: 300 })
      }
    })

    it(`reference implementation reproduces: ${v.description}`, () => {
      expect(refEncrypt(v).toString('hex')).toBe(v.messageHex)
    })

    if (v.frameLength === 0) {
      it(`library encrypts byte-identically with the vector nonce: ${v.description}`, () => {
        const { pairs } = canonicalContext(v.context, true)
        const edks = v.edks.map((e) => ({
          type: e.type as 1 | 2,
          keyId: e.keyId,
          blob: Buffer.from(e.blobHex, 'hex'),
        }))
        const material = new DataKeyMaterial(
          Suite.AES_256_GCM_CMAC_KDF_COMMIT,
          Buffer.from(v.dataKeyHex, 'hex'),
          edks,
        )
        const prefix = v.compact ? material.compactPrefix() : material.singlePrefix('vector', pairs)
        const message = sealSingle(
          material.messageKeys,
          prefix,
          Buffer.from(v.plaintextHex, 'hex'),
          v.compact ? encodeContextBlock(pairs) : undefined,
          Buffer.from(v.nonceHex, 'hex'),
        )
        expect(message.toString('hex')).toBe(v.messageHex)
        const headerLength = prefix.length + 12
        const dataKey = Buffer.from(v.dataKeyHex, 'hex')
        const compactContext = v.compact ? v.context : undefined
        expect(refDecryptSingle(dataKey, message, headerLength, compactContext).toString('hex')).toBe(
          v.plaintextHex,
        )
      })
    }
  }
})
