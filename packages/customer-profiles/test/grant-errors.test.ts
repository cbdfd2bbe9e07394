import { KeyAccessDeniedError, KeyDisabledError } from '@kms-envelope/core'
import { describe, expect, it } from 'vitest'
import { type DomainRecord, explainKeyError } from '../src/index.js'

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-111111111111'
const record: DomainRecord = {
  domainName: 'retail-eu',
  incarnation: '00000000-0000-4000-8000-000000000000',
  generation: 1,
  defaultKeyArn: KEY,
  objectTypeKeys: {},
  grants: {
    [KEY]: {
      keyArn: KEY,
      grantId: 'grant-1',
      grantToken: 'token-1',
      describeGrantId: 'grant-2',
      describeGrantToken: 'token-2',
      createdAt: 0,
    },
  },
  createdAt: 0,
  revision: 1,
}

describe('explainKeyError', () => {
  it('names the domain and grant, and keeps key, operation, principal and cause', () => {
    const original = new KeyAccessDeniedError(KEY, 'Decrypt', {
      principal: 'arn:aws:iam::444455556666:role/profiles-service',
    })
    const explained = explainKeyError(original, record) as KeyAccessDeniedError
    expect(explained).toBeInstanceOf(KeyAccessDeniedError)
    expect(explained.message).toContain('retail-eu')
    expect(explained.message).toContain('grant-1')
    expect(explained.keyId).toBe(KEY)
    expect(explained.operation).toBe('Decrypt')
    expect(explained.principal).toBe(original.principal)
    expect(explained.cause).toBe(original)
  })

  it('names the domain of a disabled key; other errors pass through', () => {
    const disabled = explainKeyError(new KeyDisabledError(KEY, 'Disabled'), record) as KeyDisabledError
    expect(disabled.message).toMatch(/^Domain "retail-eu": /)
    expect(disabled.keyState).toBe('Disabled')
    const other = new Error('boom')
    expect(explainKeyError(other, record)).toBe(other)
  })
})
