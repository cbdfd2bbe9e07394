// The guard's context split: the caller's pairs and the ESDK-reserved ones, whatever the keys are named.
import { describe, expect, it } from 'vitest'
import { splitContext } from '../src/guard.js'

describe('splitContext', () => {
  it('keeps keys that are special in JavaScript as ordinary pairs ("__proto__", "constructor")', () => {
    const header = JSON.parse(
      '{"__proto__":"p","constructor":"c","tenant":"acme","aws-crypto-public-key":"k"}',
    )
    const { context, reserved } = splitContext(header)
    expect(Object.entries(context).sort()).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['tenant', 'acme'],
    ])
    expect(Object.entries(reserved)).toEqual([['aws-crypto-public-key', 'k']])
  })
})
