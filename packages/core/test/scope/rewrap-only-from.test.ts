// rewrap({ onlyFrom }) against the memory and file stores (the DynamoDB store runs the same contract in
// packages/keystore-dynamodb).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { FileKeyStore, MemoryKeyStore } from '../../src/scope/index.js'
import { describeRewrapOnlyFrom } from './rewrap-only-from-contract.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describeRewrapOnlyFrom('MemoryKeyStore', () => new MemoryKeyStore())
describeRewrapOnlyFrom('FileKeyStore', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kenv-onlyfrom-'))
  dirs.push(directory)
  return new FileKeyStore({ directory })
})
