import { publicKeyDer, signMessage, verifyMessage } from '../asymmetric.js'
import { authorize } from '../authorize.js'
import { fail } from '../errors.js'
import { readGrantTokens } from '../grant-token.js'
import { keyMetadata } from '../key-factory.js'
import type { OpContext, Operation } from '../operation.js'
import { requireUsable, resolveKey } from '../resolve.js'
import type { KeyRecord } from '../types.js'
import { type Input, optBool, optString, reqBlob, reqString } from '../wire.js'

function signingKey(ctx: OpContext, input: Input, action: string): KeyRecord {
  const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: true })
  readGrantTokens(input)
  authorize(ctx, key, action, { encryptionAlgorithm: optString(input, 'SigningAlgorithm') as string })
  requireUsable(key)
  // Precondition: a SIGN_VERIFY key.
  if (key.keyUsage !== 'SIGN_VERIFY')
    throw fail.keyUsage(`${key.arn} key usage is ${key.keyUsage}, not SIGN_VERIFY.`)
  return key
}

/** GetPublicKey, Sign and Verify for asymmetric keys. Internal. */
export const asymmetricOperations: Record<string, Operation> = {
  GetPublicKey: {
    mutating: false,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: true })
      readGrantTokens(input)
      authorize(ctx, key, 'GetPublicKey')
      requireUsable(key)
      // Precondition: only asymmetric keys have a public key.
      if (key.keySpec === 'SYMMETRIC_DEFAULT')
        throw fail.unsupported(`${key.arn} is a symmetric key; it has no public key.`)
      const md = keyMetadata(key)
      const out: Record<string, unknown> = {
        KeyId: key.arn,
        PublicKey: publicKeyDer(key).toString('base64'),
        CustomerMasterKeySpec: key.keySpec,
        KeySpec: key.keySpec,
        KeyUsage: key.keyUsage,
      }
      if (md.EncryptionAlgorithms) out.EncryptionAlgorithms = md.EncryptionAlgorithms
      if (md.SigningAlgorithms) out.SigningAlgorithms = md.SigningAlgorithms
      return out
    },
  },

  Sign: {
    mutating: false,
    run(ctx, input) {
      const message = reqBlob(input, 'Message', 1, 4096)
      const algorithm = reqString(input, 'SigningAlgorithm')
      const messageType = optString(input, 'MessageType')
      Object.assign(ctx.audit.requestParameters, {
        keyId: input.KeyId,
        signingAlgorithm: algorithm,
        messageType: messageType ?? 'RAW',
      })
      const key = signingKey(ctx, input, 'Sign')
      const signature = signMessage(key, algorithm, messageType, message)
      if (optBool(input, 'DryRun')) throw fail.dryRun()
      return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: algorithm }
    },
  },

  Verify: {
    mutating: false,
    run(ctx, input) {
      const message = reqBlob(input, 'Message', 1, 4096)
      const signature = reqBlob(input, 'Signature', 1, 6144)
      const algorithm = reqString(input, 'SigningAlgorithm')
      const messageType = optString(input, 'MessageType')
      Object.assign(ctx.audit.requestParameters, {
        keyId: input.KeyId,
        signingAlgorithm: algorithm,
        messageType: messageType ?? 'RAW',
      })
      const key = signingKey(ctx, input, 'Verify')
      verifyMessage(key, algorithm, messageType, message, signature)
      if (optBool(input, 'DryRun')) throw fail.dryRun()
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm }
    },
  },
}
