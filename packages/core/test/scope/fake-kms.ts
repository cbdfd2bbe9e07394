// A small in-memory stand-in for KMS (test double of the KMS service, not of the code under test): keys
// with states, AES-256-GCM blobs that bind key ARN and encryption context, KMS exception names, call
// counting. Accepts the real @aws-sdk/client-kms command objects. The real local KMS is used by the
// cross-package tests; this one lets the unit tests run fast and without it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  type KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms'

const ACCOUNT = '111122223333'

function kmsError(name: string, message = name): Error {
  const err = new Error(message)
  err.name = name
  return err
}

function aad(arn: string, context: Record<string, string> = {}): Buffer {
  const pairs = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Buffer.from(JSON.stringify([arn, pairs]))
}

interface FakeKey {
  arn: string
  material: Buffer
  state: 'Enabled' | 'Disabled'
}

export class FakeKms {
  readonly keys = new Map<string, FakeKey>()
  readonly aliases = new Map<string, string>()
  readonly calls: { operation: string; input: Record<string, unknown> }[] = []

  createKey(alias?: string): string {
    const arn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${randomBytes(16).toString('hex')}`
    this.keys.set(arn, { arn, material: randomBytes(32), state: 'Enabled' })
    if (alias) this.aliases.set(alias, arn)
    return arn
  }

  setState(arn: string, state: 'Enabled' | 'Disabled'): void {
    this.#key(arn).state = state
  }

  count(operation?: string): number {
    return operation ? this.calls.filter((c) => c.operation === operation).length : this.calls.length
  }

  client(): KMSClient {
    return { send: (command: unknown) => this.send(command) } as unknown as KMSClient
  }

  async send(command: unknown): Promise<Record<string, unknown>> {
    const input = (command as { input: Record<string, unknown> }).input
    const operation = (command as object).constructor.name.replace(/Command$/, '')
    this.calls.push({ operation, input })
    if (
      command instanceof GenerateDataKeyCommand ||
      command instanceof GenerateDataKeyWithoutPlaintextCommand
    ) {
      const key = this.#usable(input.KeyId as string)
      const plaintext = randomBytes(32)
      const blob = this.#seal(key, plaintext, input.EncryptionContext as Record<string, string>)
      return command instanceof GenerateDataKeyCommand
        ? { Plaintext: new Uint8Array(plaintext), CiphertextBlob: blob, KeyId: key.arn }
        : { CiphertextBlob: blob, KeyId: key.arn }
    }
    if (command instanceof DecryptCommand) {
      const { key, plaintext } = this.#open(
        input.CiphertextBlob as Uint8Array,
        input.EncryptionContext as Record<string, string>,
        input.KeyId as string | undefined,
      )
      return { Plaintext: new Uint8Array(plaintext), KeyId: key.arn }
    }
    if (command instanceof ReEncryptCommand) {
      const { plaintext } = this.#open(
        input.CiphertextBlob as Uint8Array,
        input.SourceEncryptionContext as Record<string, string>,
        input.SourceKeyId as string | undefined,
      )
      const dest = this.#usable(input.DestinationKeyId as string)
      const blob = this.#seal(dest, plaintext, input.DestinationEncryptionContext as Record<string, string>)
      plaintext.fill(0)
      return { CiphertextBlob: blob, KeyId: dest.arn }
    }
    if (command instanceof DescribeKeyCommand) {
      const key = this.#key(input.KeyId as string)
      return {
        KeyMetadata: {
          Arn: key.arn,
          KeyId: key.arn.split('/')[1],
          KeyState: key.state,
          Enabled: key.state === 'Enabled',
          KeySpec: 'SYMMETRIC_DEFAULT',
          KeyUsage: 'ENCRYPT_DECRYPT',
        },
      }
    }
    throw kmsError('UnsupportedOperationException', operation)
  }

  #key(id: string): FakeKey {
    const arn = this.aliases.get(id) ?? id
    const key = this.keys.get(arn)
    if (!key) throw kmsError('NotFoundException', `Key '${id}' does not exist`)
    return key
  }

  #usable(id: string): FakeKey {
    const key = this.#key(id)
    if (key.state !== 'Enabled') throw kmsError('DisabledException', `${key.arn} is disabled.`)
    return key
  }

  #seal(key: FakeKey, plaintext: Buffer, context: Record<string, string> | undefined): Uint8Array {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', key.material, iv)
    c.setAAD(aad(key.arn, context))
    const arn = Buffer.from(key.arn)
    return new Uint8Array(
      Buffer.concat([Buffer.from([arn.length]), arn, iv, c.update(plaintext), c.final(), c.getAuthTag()]),
    )
  }

  #open(blob: Uint8Array, context: Record<string, string> | undefined, keyId: string | undefined) {
    const b = Buffer.from(blob)
    const arn = b.subarray(1, 1 + (b[0] ?? 0)).toString()
    const key = this.keys.get(arn)
    if (!key) throw kmsError('InvalidCiphertextException')
    if (keyId !== undefined && this.#key(keyId).arn !== arn) throw kmsError('IncorrectKeyException')
    if (key.state !== 'Enabled') throw kmsError('DisabledException', `${arn} is disabled.`)
    const o = 1 + arn.length
    const d = createDecipheriv('aes-256-gcm', key.material, b.subarray(o, o + 12))
    d.setAAD(aad(arn, context))
    d.setAuthTag(b.subarray(b.length - 16))
    try {
      return { key, plaintext: Buffer.concat([d.update(b.subarray(o + 12, b.length - 16)), d.final()]) }
    } catch {
      throw kmsError('InvalidCiphertextException')
    }
  }
}
