import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { b64, rejects, unb64, type World, world } from './helpers.js'

let w: World
beforeAll(async () => {
  w = await world()
})
afterAll(() => w.engine.close())

describe('Encrypt / Decrypt', () => {
  it('round-trips under the encryption context and reports the key ARN', async () => {
    const arn = await w.newKey()
    const ctx = { tenant: 'acme', purpose: 'pii' }
    const enc = await w.call(w.root, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('hello'),
      EncryptionContext: ctx,
    })
    expect(enc).toMatchObject({ KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' })
    const dec = await w.call(w.root, 'Decrypt', {
      CiphertextBlob: enc.CiphertextBlob,
      EncryptionContext: { purpose: 'pii', tenant: 'acme' },
    })
    expect(unb64(dec.Plaintext)).toBe('hello')
    expect(dec.KeyId).toBe(arn)
    expect(dec.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT')
  })

  it('Decrypt without KeyId finds the key from the blob; with the right KeyId (id, ARN, alias) it also works', async () => {
    const arn = await w.newKey()
    const id = arn.split('/')[1]!
    await w.call(w.root, 'CreateAlias', { AliasName: 'alias/crypto-test', TargetKeyId: id })
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
      KeyId: 'alias/crypto-test',
      Plaintext: b64('x'),
    })
    for (const KeyId of [
      undefined,
      id,
      arn,
      'alias/crypto-test',
      `arn:aws:kms:us-east-1:111122223333:alias/crypto-test`,
    ]) {
      const out = await w.call(w.root, 'Decrypt', { CiphertextBlob, ...(KeyId ? { KeyId } : {}) })
      expect(unb64(out.Plaintext)).toBe('x')
    }
  })

  it('a wrong, missing or extra encryption context → InvalidCiphertextException', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('x'),
      EncryptionContext: { a: '1' },
    })
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext: { a: '2' } }),
      'InvalidCiphertextException',
    )
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'InvalidCiphertextException')
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext: { a: '1', b: '2' } }),
      'InvalidCiphertextException',
    )
  })

  it('naming another key → IncorrectKeyException; an unknown key → NotFoundException', async () => {
    const a = await w.newKey()
    const b = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', { KeyId: a, Plaintext: b64('x') })
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob, KeyId: b }), 'IncorrectKeyException')
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: '00000000-0000-0000-0000-000000000000', Plaintext: b64('x') }),
      'NotFoundException',
    )
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: 'alias/nope', Plaintext: b64('x') }),
      'NotFoundException',
    )
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob, KeyId: 'alias/nope' }), 'NotFoundException')
  })

  it('any modified byte of a blob → InvalidCiphertextException (property)', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('secret payload'),
    })
    const blob = Buffer.from(CiphertextBlob, 'base64')
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: blob.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const t = Buffer.from(blob)
        t[i] = t[i]! ^ x
        const err = await w.call(w.root, 'Decrypt', { CiphertextBlob: t.toString('base64') }).catch((e) => e)
        // Changing the embedded ARN can name an unknown key: NotFoundException; everything else fails authentication.
        expect(['InvalidCiphertextException', 'NotFoundException']).toContain(err.type)
      }),
      { numRuns: 150 },
    )
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob: b64('not a blob at all, not at all!!') }),
      'InvalidCiphertextException',
    )
  })

  it('plaintext is 1..4096 bytes; blobs must be base64', async () => {
    const arn = await w.newKey()
    const max = Buffer.alloc(4096, 7).toString('base64')
    await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: max })
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: Buffer.alloc(4097).toString('base64') }),
      'ValidationException',
    )
    await rejects(w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: '' }), 'ValidationException')
    await rejects(w.call(w.root, 'Encrypt', { KeyId: arn }), 'ValidationException')
    await rejects(w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: 'not base64!' }), 'ValidationException')
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x'), EncryptionContext: { a: 1 } }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'Encrypt', {
        KeyId: arn,
        Plaintext: b64('x'),
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
      'InvalidKeyUsageException',
    )
  })
})

describe('key states', () => {
  it('disabled → DisabledException for every crypto op; enabling restores', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.root, 'DisableKey', { KeyId: arn })
    const e = await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'DisabledException')
    expect(e.message).toContain(arn)
    await rejects(w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') }), 'DisabledException')
    await rejects(w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }), 'DisabledException')
    await rejects(
      w.call(w.root, 'GenerateDataKeyWithoutPlaintext', { KeyId: arn, NumberOfBytes: 32 }),
      'DisabledException',
    )
    await rejects(w.call(w.root, 'ReEncrypt', { CiphertextBlob, DestinationKeyId: arn }), 'DisabledException')
    await w.call(w.root, 'EnableKey', { KeyId: arn })
    expect(unb64((await w.call(w.root, 'Decrypt', { CiphertextBlob })).Plaintext)).toBe('x')
  })

  it('pending deletion → KMSInvalidStateException; cancel → Disabled', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    await w.call(w.root, 'ScheduleKeyDeletion', { KeyId: arn, PendingWindowInDays: 7 })
    const e = await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'KMSInvalidStateException')
    expect(e.message).toMatch(/pending deletion/)
    await rejects(
      w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }),
      'KMSInvalidStateException',
    )
    await rejects(w.call(w.root, 'EnableKey', { KeyId: arn }), 'KMSInvalidStateException')
    await w.call(w.root, 'CancelKeyDeletion', { KeyId: arn })
    expect((await w.call(w.root, 'DescribeKey', { KeyId: arn })).KeyMetadata.KeyState).toBe('Disabled')
    await rejects(w.call(w.root, 'Decrypt', { CiphertextBlob }), 'DisabledException')
  })

  it('asymmetric keys exist but refuse data-key and symmetric operations with InvalidKeyUsageException', async () => {
    const rsa = await w.newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' })
    const ecc = await w.newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })
    const md = (await w.call(w.root, 'DescribeKey', { KeyId: rsa })).KeyMetadata
    expect(md).toMatchObject({
      KeySpec: 'RSA_2048',
      EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    })
    expect((await w.call(w.root, 'DescribeKey', { KeyId: ecc })).KeyMetadata.SigningAlgorithms).toEqual([
      'ECDSA_SHA_256',
    ])
    for (const KeyId of [rsa, ecc]) {
      await rejects(
        w.call(w.root, 'GenerateDataKey', { KeyId, KeySpec: 'AES_256' }),
        'InvalidKeyUsageException',
      )
      await rejects(
        w.call(w.root, 'GenerateDataKeyWithoutPlaintext', { KeyId, KeySpec: 'AES_256' }),
        'InvalidKeyUsageException',
      )
      await rejects(w.call(w.root, 'Encrypt', { KeyId, Plaintext: b64('x') }), 'InvalidKeyUsageException')
    }
    await rejects(w.newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' }), 'ValidationException')
    await rejects(w.newKey({ KeySpec: 'HMAC_256' }), 'UnsupportedOperationException')
  })
})

describe('GenerateDataKey, ReEncrypt, GenerateRandom, DryRun', () => {
  it('GenerateDataKey: AES_256 / AES_128 / NumberOfBytes; the blob decrypts to the plaintext key', async () => {
    const arn = await w.newKey()
    for (const [input, len] of [
      [{ KeySpec: 'AES_256' }, 32],
      [{ KeySpec: 'AES_128' }, 16],
      [{ NumberOfBytes: 64 }, 64],
    ] as const) {
      const dk = await w.call(w.root, 'GenerateDataKey', {
        KeyId: arn,
        EncryptionContext: { t: '1' },
        ...input,
      })
      expect(Buffer.from(dk.Plaintext, 'base64')).toHaveLength(len)
      expect(dk.KeyId).toBe(arn)
      const dec = await w.call(w.root, 'Decrypt', {
        CiphertextBlob: dk.CiphertextBlob,
        EncryptionContext: { t: '1' },
      })
      expect(dec.Plaintext).toBe(dk.Plaintext)
    }
    await rejects(w.call(w.root, 'GenerateDataKey', { KeyId: arn }), 'ValidationException')
    await rejects(
      w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', NumberOfBytes: 32 }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_512' }),
      'ValidationException',
    )
    await rejects(
      w.call(w.root, 'GenerateDataKey', { KeyId: arn, NumberOfBytes: 1025 }),
      'ValidationException',
    )
  })

  it('GenerateDataKeyWithoutPlaintext returns no plaintext; Decrypt recovers it', async () => {
    const arn = await w.newKey()
    const dk = await w.call(w.root, 'GenerateDataKeyWithoutPlaintext', { KeyId: arn, KeySpec: 'AES_256' })
    expect(dk.Plaintext).toBeUndefined()
    expect(
      Buffer.from(
        (await w.call(w.root, 'Decrypt', { CiphertextBlob: dk.CiphertextBlob })).Plaintext,
        'base64',
      ),
    ).toHaveLength(32)
  })

  it('ReEncrypt moves a ciphertext to another key and context', async () => {
    const a = await w.newKey()
    const b = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
      KeyId: a,
      Plaintext: b64('move me'),
      EncryptionContext: { v: '1' },
    })
    await rejects(
      w.call(w.root, 'ReEncrypt', { CiphertextBlob, DestinationKeyId: b }),
      'InvalidCiphertextException',
    )
    const re = await w.call(w.root, 'ReEncrypt', {
      CiphertextBlob,
      SourceEncryptionContext: { v: '1' },
      DestinationKeyId: b,
      DestinationEncryptionContext: { v: '2' },
    })
    expect(re).toMatchObject({ SourceKeyId: a, KeyId: b })
    await rejects(
      w.call(w.root, 'Decrypt', {
        CiphertextBlob: re.CiphertextBlob,
        KeyId: a,
        EncryptionContext: { v: '2' },
      }),
      'IncorrectKeyException',
    )
    expect(
      unb64(
        (
          await w.call(w.root, 'Decrypt', {
            CiphertextBlob: re.CiphertextBlob,
            EncryptionContext: { v: '2' },
          })
        ).Plaintext,
      ),
    ).toBe('move me')
    await rejects(
      w.call(w.root, 'ReEncrypt', {
        CiphertextBlob,
        SourceKeyId: b,
        SourceEncryptionContext: { v: '1' },
        DestinationKeyId: b,
      }),
      'IncorrectKeyException',
    )
  })

  it('GenerateRandom returns NumberOfBytes random bytes', async () => {
    const a = await w.call(w.root, 'GenerateRandom', { NumberOfBytes: 32 })
    const b = await w.call(w.root, 'GenerateRandom', { NumberOfBytes: 32 })
    expect(Buffer.from(a.Plaintext, 'base64')).toHaveLength(32)
    expect(a.Plaintext).not.toBe(b.Plaintext)
    await rejects(w.call(w.root, 'GenerateRandom', { NumberOfBytes: 0 }), 'ValidationException')
    await rejects(w.call(w.root, 'GenerateRandom', { NumberOfBytes: 1025 }), 'ValidationException')
  })

  it('DryRun: DryRunOperationException (412) when the call would succeed, the real error otherwise', async () => {
    const arn = await w.newKey()
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x') })
    for (const [op, input] of [
      ['Encrypt', { KeyId: arn, Plaintext: b64('x') }],
      ['Decrypt', { CiphertextBlob }],
      ['ReEncrypt', { CiphertextBlob, DestinationKeyId: arn }],
      ['GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256' }],
      ['GenerateDataKeyWithoutPlaintext', { KeyId: arn, KeySpec: 'AES_256' }],
      [
        'CreateGrant',
        { KeyId: arn, GranteePrincipal: `arn:aws:iam::111122223333:role/x`, Operations: ['Decrypt'] },
      ],
    ] as const) {
      const e = await rejects(w.call(w.root, op, { ...input, DryRun: true }), 'DryRunOperationException')
      expect(e.statusCode).toBe(412)
    }
    expect((await w.call(w.root, 'ListGrants', { KeyId: arn })).Grants).toHaveLength(0)
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext: { a: 'b' }, DryRun: true }),
      'InvalidCiphertextException',
    )
    await rejects(
      w.call(w.svc, 'Encrypt', { KeyId: arn, Plaintext: b64('x'), DryRun: true }),
      'AccessDeniedException',
    )
  })

  it('grant tokens are validated on every operation that takes them', async () => {
    const arn = await w.newKey()
    await rejects(
      w.call(w.root, 'Encrypt', { KeyId: arn, Plaintext: b64('x'), GrantTokens: ['bogus'] }),
      'InvalidGrantTokenException',
    )
    await rejects(
      w.call(w.root, 'GenerateDataKey', { KeyId: arn, KeySpec: 'AES_256', GrantTokens: Array(11).fill('x') }),
      'ValidationException',
    )
  })

  it('unknown operations and non-object input are refused', async () => {
    await rejects(w.call(w.root, 'Frobnicate'), 'UnknownOperationException')
    // Names of Object's own members are not operations either (they are not 500s).
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__'])
      await rejects(w.call(w.root, name), 'UnknownOperationException')
    await rejects(
      w.engine.call('ListKeys', [] as unknown as Record<string, unknown>, w.root),
      'SerializationException',
    )
  })
})

describe('encryption context binding (property)', () => {
  it('a context key named __proto__ is an ordinary, bound pair', async () => {
    const arn = await w.newKey()
    const EncryptionContext = JSON.parse('{"__proto__":"x","a":"b"}')
    const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
      KeyId: arn,
      Plaintext: b64('p'),
      EncryptionContext,
    })
    await w.call(w.root, 'Decrypt', {
      CiphertextBlob,
      EncryptionContext: JSON.parse('{"__proto__":"x","a":"b"}'),
    })
    await rejects(
      w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext: { a: 'b' } }),
      'InvalidCiphertextException',
    )
  })

  const contextArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), {
    maxKeys: 6,
  })
  it('the same pairs in any order decrypt; changing, adding or removing a pair fails', async () => {
    const arn = await w.newKey()
    await fc.assert(
      fc.asyncProperty(contextArb, fc.string({ minLength: 1, maxLength: 8 }), async (context, extra) => {
        const { CiphertextBlob } = await w.call(w.root, 'Encrypt', {
          KeyId: arn,
          Plaintext: b64('p'),
          EncryptionContext: context,
        })
        const reversed = Object.fromEntries(Object.entries(context).reverse())
        expect(
          unb64((await w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext: reversed })).Plaintext),
        ).toBe('p')
        const keys = Object.keys(context)
        const variants: Record<string, string>[] = []
        if (context[`${extra}#`] !== 'x') variants.push({ ...context, [`${extra}#`]: 'x' })
        if (keys.length > 0) {
          const [first] = keys as [string]
          variants.push({ ...context, [first]: `${context[first]}!` })
          const { [first]: _removed, ...rest } = context
          variants.push(rest)
        }
        for (const EncryptionContext of variants) {
          await rejects(
            w.call(w.root, 'Decrypt', { CiphertextBlob, EncryptionContext }),
            'InvalidCiphertextException',
          )
        }
      }),
      { numRuns: 60 },
    )
  })
})
