// FileKeyStore shared by several REAL processes: conditional updates lose nothing (the lock and the revision
// check), audit lines never interleave, and the wrapped key survives every rewrite.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { FileKeyStore } from '../../packages/core/src/scope/index.js'

const run = promisify(execFile)
const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const child = fileURLToPath(new URL('./file-store-child.ts', import.meta.url))
const directory = mkdtempSync(join(tmpdir(), 'kenv-fs-'))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

describe('FileKeyStore across processes', () => {
  it('3 processes x 25 conditional updates of one record: all 75 land, audit intact', async () => {
    const store = new FileKeyStore({ directory })
    await store.createVersion({
      scopeId: 'shared',
      version: 1,
      state: 'active',
      createdAt: 1,
      createdBy: 'test',
      windowStart: 0,
      windowEnd: null,
      wrappingKeyId: 'arn:aws:kms:us-east-1:111122223333:key/k',
      wrappedKey: new Uint8Array([1, 2, 3, 4]),
      context: {},
      revision: 1,
    })
    await Promise.all(
      ['p1', 'p2', 'p3'].map((name) =>
        run(process.execPath, ['--import', 'tsx', child, directory, '25', name], {
          cwd: repoRoot,
          timeout: 90_000,
        }),
      ),
    )
    const record = (await store.getVersion('shared', 1))!
    expect(record.revision).toBe(76)
    expect(Array.from(record.wrappedKey!)).toEqual([1, 2, 3, 4])
    const audit = await store.listAudit('shared')
    expect(audit).toHaveLength(75)
    for (const name of ['p1', 'p2', 'p3']) expect(audit.filter((e) => e.actor === name)).toHaveLength(25)
  }, 120_000)
})
