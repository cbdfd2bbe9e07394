import { constants, createPublicKey, publicEncrypt, verify } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { b64, rejects, unb64, type World, world } from './helpers.js'

let w: World
let rsaEnc: string
let rsaSign: string
let ecc: string
beforeAll(async () => {
  w = await world()
  rsaEnc = await w.newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })
  rsaSign = await w.newKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' })
  ecc = await w.newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })
})
afterAll(() => w.engine.close())

describe('asymmetric keys', () => {
  it('GetPublicKey returns a DER SPKI that matches the private key', async () => {
    const out = await w.call(w.root, 'GetPublicKey', { KeyId: rsaEnc })
    expect(out).toMatchObject({
      KeyId: rsaEnc,
      KeySpec: 'RSA_2048',
      KeyUsage: 'ENCRYPT_DECRYPT',
      EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    })
    const pub = createPublicKey({ key: Buffer.from(out.PublicKey, 'base64'), format: 'der', type: 'spki' })
    // Encrypt outside KMS with the public key; KMS decrypts.
    const ct = publicEncrypt(
      { key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from('offline'),
    )
    const dec = await w.call(w.root, 'Decrypt', {
      KeyId: rsaEnc,
      CiphertextBlob: ct.toString('base64'),
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    })
    expect(unb64(dec.Plaintext)).toBe('offline')
    await rejects(
      w.call(w.root, 'GetPublicKey', { KeyId: await w.newKey() }),
      'UnsupportedOperationException',
    )
  })

  it('RSAES-OAEP Encrypt / Decrypt with the algorithm; limits and context refused', async () => {
    for (const EncryptionAlgorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']) {
      const enc = await w.call(w.root, 'Encrypt', {
        KeyId: rsaEnc,
        Plaintext: b64('rsa'),
        EncryptionAlgorithm,
      })
      expect(Buffer.from(enc.CiphertextBlob, 'base64')).toHaveLength(256)
      const dec = await w.call(w.root, 'Decrypt', {
        KeyId: rsaEnc,
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionAlgorithm,
      })
      expect(unb64(dec.Plaintext)).toBe('rsa')
    }
    await w.call(w.root, 'Encrypt', {
      KeyId: rsaEnc,
      Plaintext: Buffer.alloc(190).toString('base64'),
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    })
    await rejects(
      w.call(w.root, 'Encrypt', {
        KeyId: rsaEnc,
        Plaintext: Buffer.alloc(191).toString('base64'),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: rsaEnc, Plaintext: b64('x') }),
      'InvalidKeyUsageException',
    )
    await rejects(
      w.call(w.root, 'Encrypt', {
        KeyId: rsaEnc,
        Plaintext: b64('x'),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
        EncryptionContext: { a: 'b' },
      }),
      'ValidationException',
    )
    const enc = await w.call(w.root, 'Encrypt', {
      KeyId: rsaEnc,
      Plaintext: b64('x'),
      EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
    })
    await rejects(
      w.call(w.root, 'Decrypt', {
        KeyId: rsaEnc,
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
      'InvalidCiphertextException',
    )
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob: enc.CiphertextBlob }),
      'InvalidCiphertextException',
    )
  })

  it('Sign / Verify (RSASSA-PSS, PKCS#1 v1.5, ECDSA DER); a wrong message → KMSInvalidSignatureException', async () => {
    const pubOf = async (KeyId: string) =>
      createPublicKey({
        key: Buffer.from((await w.call(w.root, 'GetPublicKey', { KeyId })).PublicKey, 'base64'),
        format: 'der',
        type: 'spki',
      })
    for (const [KeyId, SigningAlgorithm] of [
      [rsaSign, 'RSASSA_PSS_SHA_256'],
      [rsaSign, 'RSASSA_PKCS1_V1_5_SHA_384'],
      [ecc, 'ECDSA_SHA_256'],
    ] as const) {
      const s = await w.call(w.root, 'Sign', { KeyId, Message: b64('doc'), SigningAlgorithm })
      expect(s).toMatchObject({ KeyId, SigningAlgorithm })
      expect(
        await w.call(w.root, 'Verify', {
          KeyId,
          Message: b64('doc'),
          Signature: s.Signature,
          SigningAlgorithm,
        }),
      ).toMatchObject({ SignatureValid: true })
      await rejects(
        w.call(w.root, 'Verify', { KeyId, Message: b64('doc!'), Signature: s.Signature, SigningAlgorithm }),
        'KMSInvalidSignatureException',
      )
      // Verifiable outside KMS with the public key.
      const hash = SigningAlgorithm.endsWith('384') ? 'sha384' : 'sha256'
      const opts = SigningAlgorithm.startsWith('RSASSA_PSS')
        ? { key: await pubOf(KeyId), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
        : { key: await pubOf(KeyId) }
      expect(verify(hash, Buffer.from('doc'), opts, Buffer.from(s.Signature, 'base64'))).toBe(true)
    }
    await rejects(
      w.call(w.root, 'Sign', { KeyId: ecc, Message: b64('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
      'InvalidKeyUsageException',
    )
    await rejects(
      w.call(w.root, 'Sign', { KeyId: rsaEnc, Message: b64('x'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
      'InvalidKeyUsageException',
    )
    await rejects(
      w.call(w.root, 'Sign', {
        KeyId: ecc,
        Message: b64('x'),
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
      'UnsupportedOperationException',
    )
    await rejects(
      w.call(w.svc, 'Sign', { KeyId: ecc, Message: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      'AccessDeniedException',
    )
  })

  it('a disabled asymmetric key refuses Sign', async () => {
    await w.call(w.root, 'DisableKey', { KeyId: ecc })
    await rejects(
      w.call(w.root, 'Sign', { KeyId: ecc, Message: b64('x'), SigningAlgorithm: 'ECDSA_SHA_256' }),
      'DisabledException',
    )
    await w.call(w.root, 'EnableKey', { KeyId: ecc })
  })
})
