// A tiny stand-in backend for transport tests: two access keys, a handful of canned operations. It lives in
// the test tree only; the e2e suites run against the real engine.
import { KmsServiceError } from '../../src/engine/errors.js'
import type { CallerIdentity } from '../../src/engine/types.js'
import type { KmsBackend } from '../../src/transport/types.js'

export const TEST_CALLER: CallerIdentity = {
  accessKeyId: 'test',
  accountId: '111122223333',
  principalArn: 'arn:aws:iam::111122223333:root',
}

export interface StandIn extends KmsBackend {
  calls: { operation: string; input: Record<string, unknown>; caller: CallerIdentity }[]
}

export function standIn(): StandIn {
  const calls: StandIn['calls'] = []
  return {
    region: 'us-east-1',
    calls,
    resolveAccessKey(accessKeyId) {
      if (accessKeyId === 'test') return { secretAccessKey: 'test', caller: TEST_CALLER }
      if (accessKeyId === 'AKIDSERVICE') {
        return {
          secretAccessKey: 'service-secret',
          caller: {
            accessKeyId,
            accountId: '444455556666',
            principalArn: 'arn:aws:iam::444455556666:role/svc',
          },
        }
      }
      return undefined
    },
    async call(operation, input, caller) {
      calls.push({ operation, input, caller })
      switch (operation) {
        case 'ListKeys':
          return {
            Keys: [{ KeyId: 'k1', KeyArn: 'arn:aws:kms:us-east-1:111122223333:key/k1' }],
            Truncated: false,
          }
        case 'GenerateRandom':
          return { Plaintext: Buffer.alloc(Number(input.NumberOfBytes ?? 0), 7).toString('base64') }
        case 'DescribeKey':
          throw new KmsServiceError('NotFoundException', `Key '${String(input.KeyId)}' does not exist`)
        case 'Decrypt':
          throw new KmsServiceError('InvalidCiphertextException', '')
        case 'GenerateDataKey':
          throw new KmsServiceError('DependencyTimeoutException', 'Fault injected', 503)
        case 'Encrypt':
          throw new TypeError('a bug with a secret in it: s3cr3t')
        default:
          throw new KmsServiceError('UnknownOperationException', '')
      }
    },
  }
}
