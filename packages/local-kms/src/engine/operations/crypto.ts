import { randomBytes } from 'node:crypto'
import { isRsaEncryption, rsaDecrypt, rsaEncrypt } from '../asymmetric.js'
import { authorize, authorizeIdentityOnly } from '../authorize.js'
import { openBlob, parseBlob, sealBlob } from '../ciphertext.js'
import { readContext } from '../context.js'
import { fail } from '../errors.js'
import { readGrantTokens } from '../grant-token.js'
import type { OpContext, Operation } from '../operation.js'
import { maintain, requireSymmetric, requireUsable, resolveKey } from '../resolve.js'
import type { EncryptionContext, KeyRecord } from '../types.js'
import { type Input, optBool, optInt, optString, reqBlob, reqString } from '../wire.js'

const ALGORITHM = 'SYMMETRIC_DEFAULT'

function readAlgorithm(input: Input, field: string): void {
  const alg = optString(input, field)
  // Precondition: symmetric keys only support SYMMETRIC_DEFAULT.
  if (alg !== undefined && alg !== ALGORITHM) {
    throw fail.keyUsage(`${field} ${alg} is not supported by this key; symmetric keys use SYMMETRIC_DEFAULT.`)
  }
}

function recordParams(
  ctx: OpContext,
  input: Input,
  context: EncryptionContext,
  extra: Record<string, unknown> = {},
) {
  const p = ctx.audit.requestParameters
  if (typeof input.KeyId === 'string') p.keyId = input.KeyId
  p.encryptionContext = context
  const tokens = input.GrantTokens
  if (Array.isArray(tokens)) p.grantTokens = tokens
  p.encryptionAlgorithm = ALGORITHM
  Object.assign(p, extra)
}

/** Key for encryption: resolved, authorized, usable, symmetric. */
function encryptionKey(ctx: OpContext, keyId: string, action: string, context: EncryptionContext): KeyRecord {
  const key = resolveKey(ctx, keyId, { crossAccount: true })
  authorize(ctx, key, action, { context, encryptionAlgorithm: ALGORITHM })
  requireUsable(key)
  requireSymmetric(key, action)
  return key
}

function seal(key: KeyRecord, plaintext: Buffer, context: EncryptionContext): Buffer {
  const current = key.materials[key.materials.length - 1]!
  return sealBlob(key.arn, current.version, current.material, plaintext, context)
}

/** Find, authorize and open a blob. Returns the key and the plaintext (caller zeroizes). */
function openCiphertext(
  ctx: OpContext,
  blob: Buffer,
  keyId: string | undefined,
  context: EncryptionContext,
  action: string,
): { key: KeyRecord; plaintext: Buffer } {
  const parsed = parseBlob(blob)
  let key: KeyRecord
  if (keyId !== undefined) {
    key = resolveKey(ctx, keyId, { crossAccount: true })
    // Precondition: the KeyId named in the request is the key the blob was encrypted under.
    if (key.arn !== parsed.keyArn) throw fail.incorrectKey()
  } else {
    const found = ctx.state.keys.get(parsed.keyArn)
    if (!found || !maintain(ctx, found)) throw fail.notFound(`Key '${parsed.keyArn}' does not exist`)
    key = found
    if (!ctx.audit.keys.includes(key)) ctx.audit.keys.push(key)
  }
  authorize(ctx, key, action, { context, encryptionAlgorithm: ALGORITHM })
  requireUsable(key)
  requireSymmetric(key, action)
  const material = key.materials.find((m) => m.version === parsed.materialVersion)
  // Precondition: the backing-key version the blob names exists.
  if (!material) throw fail.invalidCiphertext()
  return { key, plaintext: openBlob(parsed, material.material, context) }
}

function requireNoContext(context: EncryptionContext): void {
  // Precondition: RSAES-OAEP takes no encryption context.
  if (Object.keys(context).length > 0) {
    throw fail.validation(
      'EncryptionContext is supported only with symmetric encryption KMS keys, not with RSA keys.',
    )
  }
}

function dryRun(input: Input): boolean {
  return optBool(input, 'DryRun') === true
}

function generateDataKey(
  ctx: OpContext,
  input: Input,
  operation: string,
): { key: KeyRecord; plaintext: Buffer; blob: Buffer } {
  const keyId = reqString(input, 'KeyId')
  const context = readContext(input.EncryptionContext)
  readGrantTokens(input)
  const bytes = optInt(input, 'NumberOfBytes', 1, 1024)
  const spec = optString(input, 'KeySpec')
  recordParams(ctx, input, context, bytes !== undefined ? { numberOfBytes: bytes } : { keySpec: spec })
  // Precondition: exactly one of NumberOfBytes and KeySpec.
  if (bytes === undefined && spec === undefined)
    throw fail.validation('Please specify either number of bytes or key spec.')
  if (bytes !== undefined && spec !== undefined)
    throw fail.validation('Please specify either number of bytes or key spec, not both.')
  // Precondition: KeySpec is AES_128 or AES_256.
  if (spec !== undefined && spec !== 'AES_128' && spec !== 'AES_256') {
    throw fail.validation(
      `1 validation error detected: Value '${spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`,
    )
  }
  if (input.Recipient !== undefined)
    throw fail.unsupported('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.')
  const key = encryptionKey(ctx, keyId, operation, context)
  if (dryRun(input)) throw fail.dryRun()
  const plaintext = randomBytes(bytes ?? (spec === 'AES_128' ? 16 : 32))
  return { key, plaintext, blob: seal(key, plaintext, context) }
}

/** Cryptographic operations. Internal. */
export const cryptoOperations: Record<string, Operation> = {
  Encrypt: {
    mutating: false,
    run(ctx, input) {
      const keyId = reqString(input, 'KeyId')
      const plaintext = reqBlob(input, 'Plaintext', 1, 4096)
      try {
        const context = readContext(input.EncryptionContext)
        readGrantTokens(input)
        recordParams(ctx, input, context)
        const algorithm = optString(input, 'EncryptionAlgorithm')
        const key = resolveKey(ctx, keyId, { crossAccount: true })
        if (isRsaEncryption(key)) {
          ctx.audit.requestParameters.encryptionAlgorithm = algorithm
          authorize(ctx, key, 'Encrypt', {
            context,
            ...(algorithm ? { encryptionAlgorithm: algorithm } : {}),
          })
          requireUsable(key)
          requireNoContext(context)
          const blob = rsaEncrypt(key, algorithm, plaintext)
          if (dryRun(input)) throw fail.dryRun()
          return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: algorithm }
        }
        readAlgorithm(input, 'EncryptionAlgorithm')
        authorize(ctx, key, 'Encrypt', { context, encryptionAlgorithm: ALGORITHM })
        requireUsable(key)
        requireSymmetric(key, 'Encrypt')
        if (dryRun(input)) throw fail.dryRun()
        return {
          CiphertextBlob: seal(key, plaintext, context).toString('base64'),
          KeyId: key.arn,
          EncryptionAlgorithm: ALGORITHM,
        }
      } finally {
        plaintext.fill(0)
      }
    },
  },

  Decrypt: {
    mutating: false,
    run(ctx, input) {
      const blob = reqBlob(input, 'CiphertextBlob', 1, 6144)
      const keyId = optString(input, 'KeyId')
      const context = readContext(input.EncryptionContext)
      readGrantTokens(input)
      recordParams(ctx, input, context)
      if (input.Recipient !== undefined) {
        throw fail.unsupported('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.')
      }
      const named = keyId === undefined ? undefined : resolveKey(ctx, keyId, { crossAccount: true })
      if (named && isRsaEncryption(named)) {
        const algorithm = optString(input, 'EncryptionAlgorithm')
        ctx.audit.requestParameters.encryptionAlgorithm = algorithm
        authorize(ctx, named, 'Decrypt', {
          context,
          ...(algorithm ? { encryptionAlgorithm: algorithm } : {}),
        })
        requireUsable(named)
        requireNoContext(context)
        const plaintext = rsaDecrypt(named, algorithm, blob)
        try {
          if (dryRun(input)) throw fail.dryRun()
          return { KeyId: named.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: algorithm }
        } finally {
          plaintext.fill(0)
        }
      }
      readAlgorithm(input, 'EncryptionAlgorithm')
      const { key, plaintext } = openCiphertext(ctx, blob, keyId, context, 'Decrypt')
      try {
        if (dryRun(input)) throw fail.dryRun()
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: ALGORITHM }
      } finally {
        plaintext.fill(0)
      }
    },
  },

  ReEncrypt: {
    mutating: false,
    run(ctx, input) {
      const blob = reqBlob(input, 'CiphertextBlob', 1, 6144)
      const sourceKeyId = optString(input, 'SourceKeyId')
      const destinationKeyId = reqString(input, 'DestinationKeyId')
      const sourceContext = readContext(input.SourceEncryptionContext, 'SourceEncryptionContext')
      const destinationContext = readContext(
        input.DestinationEncryptionContext,
        'DestinationEncryptionContext',
      )
      readGrantTokens(input)
      readAlgorithm(input, 'SourceEncryptionAlgorithm')
      readAlgorithm(input, 'DestinationEncryptionAlgorithm')
      Object.assign(ctx.audit.requestParameters, {
        sourceKeyId,
        destinationKeyId,
        sourceEncryptionContext: sourceContext,
        destinationEncryptionContext: destinationContext,
        grantTokens: input.GrantTokens,
      })
      const { key: source, plaintext } = openCiphertext(
        ctx,
        blob,
        sourceKeyId,
        sourceContext,
        'ReEncryptFrom',
      )
      try {
        const destination = encryptionKey(ctx, destinationKeyId, 'ReEncryptTo', destinationContext)
        if (dryRun(input)) throw fail.dryRun()
        return {
          CiphertextBlob: seal(destination, plaintext, destinationContext).toString('base64'),
          SourceKeyId: source.arn,
          KeyId: destination.arn,
          SourceEncryptionAlgorithm: ALGORITHM,
          DestinationEncryptionAlgorithm: ALGORITHM,
        }
      } finally {
        plaintext.fill(0)
      }
    },
  },

  GenerateDataKey: {
    mutating: false,
    run(ctx, input) {
      const { key, plaintext, blob } = generateDataKey(ctx, input, 'GenerateDataKey')
      try {
        return {
          CiphertextBlob: blob.toString('base64'),
          Plaintext: plaintext.toString('base64'),
          KeyId: key.arn,
        }
      } finally {
        plaintext.fill(0)
      }
    },
  },

  GenerateDataKeyWithoutPlaintext: {
    mutating: false,
    run(ctx, input) {
      const { key, plaintext, blob } = generateDataKey(ctx, input, 'GenerateDataKeyWithoutPlaintext')
      plaintext.fill(0)
      return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn }
    },
  },

  GenerateRandom: {
    mutating: false,
    run(ctx, input) {
      // Precondition: GenerateRandom is allowed by an identity (IAM) policy on `*`.
      authorizeIdentityOnly(ctx, 'GenerateRandom', '*')
      const n = optInt(input, 'NumberOfBytes', 1, 1024)
      // Precondition: NumberOfBytes is required in practice.
      if (n === undefined) throw fail.validation('NumberOfBytes is required.')
      if (input.CustomKeyStoreId !== undefined)
        throw fail.unsupported('Custom key stores are not supported by the local KMS.')
      if (input.Recipient !== undefined)
        throw fail.unsupported('Recipient (Nitro Enclaves attestation) is not supported by the local KMS.')
      ctx.audit.requestParameters.numberOfBytes = n
      const bytes = randomBytes(n)
      try {
        return { Plaintext: bytes.toString('base64') }
      } finally {
        bytes.fill(0)
      }
    },
  },
}
