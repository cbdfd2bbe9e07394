/**
 * The per-message key derivation against published vectors: C2SP XAES-256-GCM (whose key derivation is
 * ours, with its nonce's first 12 bytes as our nonce) and NIST SP 800-38B AES-256-CMAC (which validates the
 * reference implementation's textbook CMAC), then the library against that reference for random inputs.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { commitment, extractPrk, kdfKey, MessageKeyDeriver } from '../../src/crypto/derive.js'
import { refCmac, refCommitment, refMessageKey } from '../vectors/reference.js'

const hex = (s: string) => Buffer.from(s, 'hex')

/** XAES-256-GCM built from the library's deriver: key = derive(N[0..12]), GCM IV = N[12..24]. */
function xaesSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const messageKey = new MessageKeyDeriver(key).derive(nonce.subarray(0, 12))
  const gcm = createCipheriv('aes-256-gcm', messageKey, nonce.subarray(12))
  gcm.setAAD(aad)
  return Buffer.concat([gcm.update(plaintext), gcm.final(), gcm.getAuthTag()])
}

describe('per-message key derivation', () => {
  // https://github.com/C2SP/C2SP/blob/main/XAES-256-GCM.md, "Test vectors".
  const XAES = [
    {
      key: '01'.repeat(32),
      aad: '',
      ciphertext: 'ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271',
    },
    {
      key: '03'.repeat(32),
      aad: Buffer.from('c2sp.org/XAES-256-GCM').toString('hex'),
      ciphertext: '986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d',
    },
  ]
  for (const [i, v] of XAES.entries()) {
    it(`reproduces C2SP XAES-256-GCM vector ${i + 1}`, () => {
      const nonce = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWX', 'ascii')
      const sealed = xaesSeal(hex(v.key), nonce, Buffer.from('XAES-256-GCM'), hex(v.aad))
      expect(sealed.toString('hex')).toBe(v.ciphertext)
      // And the vector opens under the derived key (authenticates).
      const d = createDecipheriv(
        'aes-256-gcm',
        new MessageKeyDeriver(hex(v.key)).derive(nonce.subarray(0, 12)),
        nonce.subarray(12),
      )
      d.setAAD(hex(v.aad))
      d.setAuthTag(hex(v.ciphertext).subarray(-16))
      expect(Buffer.concat([d.update(hex(v.ciphertext).subarray(0, -16)), d.final()]).toString()).toBe(
        'XAES-256-GCM',
      )
    })
  }

  // NIST SP 800-38B, Appendix D.3 (AES-256 examples).
  it('reference CMAC matches NIST SP 800-38B AES-256 examples', () => {
    const key = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4')
    expect(refCmac(key, Buffer.alloc(0)).toString('hex')).toBe('028962f61b7bf89efc6b551f4667d983')
    expect(refCmac(key, hex('6bc1bee22e409f96e93d7e117393172a')).toString('hex')).toBe(
      '28a7023f452e8f82bd4bf28d8c37c35c',
    )
  })

  it('library derivation equals the reference (HKDF + textbook CMAC) for any data key and nonce', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (dk, n) => {
          const prk = extractPrk(Buffer.from(dk))
          const deriver = new MessageKeyDeriver(kdfKey(prk))
          expect(deriver.derive(n).toString('hex')).toBe(
            refMessageKey(Buffer.from(dk), Buffer.from(n)).toString('hex'),
          )
          expect(commitment(prk).toString('hex')).toBe(refCommitment(Buffer.from(dk)).toString('hex'))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('KX is HKDF-Expand of the PRK, distinct from the commitment', () => {
    const dk = Buffer.alloc(32, 7)
    const prk = extractPrk(dk)
    const salt = Buffer.from('kms-envelope/v1/AES-256-GCM/HKDF-SHA256/commit', 'ascii')
    const info = Buffer.from('kms-envelope/v1/message-kdf-key', 'ascii')
    expect(kdfKey(prk).equals(Buffer.from(hkdfSync('sha256', dk, salt, info, 32)))).toBe(true)
    expect(kdfKey(prk).equals(commitment(prk))).toBe(false)
  })

  it('gives distinct keys for distinct nonces and is stable across calls', () => {
    const deriver = new MessageKeyDeriver(Buffer.alloc(32, 9))
    const a = deriver.derive(Buffer.alloc(12, 1))
    const b = deriver.derive(Buffer.alloc(12, 2))
    expect(a.equals(b)).toBe(false)
    expect(deriver.derive(Buffer.alloc(12, 1)).equals(a)).toBe(true)
  })

  it('refuses bad lengths and use after destroy', () => {
    expect(() => new MessageKeyDeriver(Buffer.alloc(16))).toThrow(RangeError)
    const deriver = new MessageKeyDeriver(Buffer.alloc(32, 1))
    expect(() => deriver.derive(Buffer.alloc(11))).toThrow(RangeError)
    deriver.destroy()
    expect(() => deriver.derive(Buffer.alloc(12))).toThrow(/after destroy/)
  })
})
