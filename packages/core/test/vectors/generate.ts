// Regenerates v1.vectors.json from the reference implementation: `npx tsx packages/core/test/vectors/generate.ts`.
// Inputs are fixed (no randomness), so the output is stable.
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { type RefInput, refEncrypt } from './reference.js'

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555'
const ARN2 = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef'
const det = (label: string, n: number) => {
  let out = Buffer.alloc(0)
  for (let i = 0; out.length < n; i++)
    out = Buffer.concat([out, createHash('sha256').update(`${label}/${i}`).digest()])
  return out.subarray(0, n).toString('hex')
}

const cases: Array<{ description: string; input: RefInput }> = [
  {
    description: 'single, empty plaintext, empty context, one KMS key',
    input: {
      dataKeyHex: det('dk1', 32),
      nonceHex: det('n1', 12),
      context: {},
      edks: [{ type: 1, keyId: ARN, blobHex: det('blob1', 184) }],
      frameLength: 0,
      plaintextHex: '',
    },
  },
  {
    description: 'single, 1 KiB, two-pair context',
    input: {
      dataKeyHex: det('dk2', 32),
      nonceHex: det('n2', 12),
      context: { tenant: 'acme', purpose: 'demo' },
      edks: [{ type: 1, keyId: ARN, blobHex: det('blob2', 184) }],
      frameLength: 0,
      plaintextHex: det('pt2', 1024),
    },
  },
  {
    description: 'single, UTF-8 context sorted by bytes, two wrapping keys',
    input: {
      dataKeyHex: det('dk3', 32),
      nonceHex: det('n3', 12),
      context: { é: 'accent', z: 'last', A: 'first', '😀': 'emoji' },
      edks: [
        { type: 1, keyId: ARN, blobHex: det('blob3a', 184) },
        { type: 1, keyId: ARN2, blobHex: det('blob3b', 184) },
      ],
      frameLength: 0,
      plaintextHex: det('pt3', 100),
    },
  },
  {
    description: 'framed, 3 full frames of 16 bytes then an empty final frame',
    input: {
      dataKeyHex: det('dk4', 32),
      nonceHex: det('n4', 12),
      context: { object: 'recording-1' },
      edks: [{ type: 1, keyId: ARN, blobHex: det('blob4', 184) }],
      frameLength: 16,
      plaintextHex: det('pt4', 48),
    },
  },
  {
    description: 'framed, 2 full frames and a final frame of 5 bytes',
    input: {
      dataKeyHex: det('dk5', 32),
      nonceHex: det('n5', 12),
      context: {},
      edks: [{ type: 1, keyId: ARN, blobHex: det('blob5', 184) }],
      frameLength: 32,
      plaintextHex: det('pt5', 69),
    },
  },
  {
    description: 'single, scope-key reference (scope "instance-1", version 300)',
    input: {
      dataKeyHex: det('dk6', 32),
      nonceHex: det('n6', 12),
      context: { instance: 'i-1' },
      edks: [{ type: 2, keyId: 'instance-1', blobHex: 'ac02' }],
      frameLength: 0,
      plaintextHex: det('pt6', 64),
    },
  },
  {
    description: 'compact, 1 KiB, two-pair context (not stored), one unnamed KMS key',
    input: {
      dataKeyHex: det('dk7', 32),
      nonceHex: det('n7', 12),
      context: { tenant: 'acme', purpose: 'demo' },
      edks: [{ type: 1, keyId: '', blobHex: det('blob7', 184) }],
      frameLength: 0,
      plaintextHex: det('pt7', 1024),
      compact: true,
    },
  },
  {
    description: 'compact, empty plaintext, empty context',
    input: {
      dataKeyHex: det('dk8', 32),
      nonceHex: det('n8', 12),
      context: {},
      edks: [{ type: 1, keyId: '', blobHex: det('blob8', 184) }],
      frameLength: 0,
      plaintextHex: '',
      compact: true,
    },
  },
]

const vectors = cases.map(({ description, input }) => ({
  description,
  ...input,
  messageHex: refEncrypt(input).toString('hex'),
}))
writeFileSync(
  new URL('./v1.vectors.json', import.meta.url),
  `${JSON.stringify({ format: 'kms-envelope v1', vectors }, null, 1)}\n`,
)
console.log(`wrote ${vectors.length} vectors`)
