import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { ConfigurationError } from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileStorage, VisionNotFoundError } from '../src/index.js'

let dir: string
let storage: FileStorage
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vision-storage-'))
  storage = new FileStorage({ directory: dir })
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('FileStorage', () => {
  it('puts, gets, streams, lists and deletes objects', async () => {
    await storage.put('projects/p/a.bin', new Uint8Array([1, 2]))
    await storage.put('projects/p/sub/b.bin', Readable.from([Buffer.from('x'), Buffer.from('y')]))
    expect(await storage.get('projects/p/a.bin')).toEqual(new Uint8Array([1, 2]))
    const chunks: Buffer[] = []
    for await (const c of await storage.getStream('projects/p/sub/b.bin')) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('xy')
    expect(await storage.list('projects/p')).toEqual(['projects/p/a.bin', 'projects/p/sub/b.bin'])
    expect(await storage.list('projects/none')).toEqual([])
    expect(statSync(join(dir, 'projects/p/a.bin')).mode & 0o077).toBe(0)
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]) // no temp file left behind
    expect(await storage.delete('projects/p/a.bin')).toBe(true)
    expect(await storage.has('projects/p/a.bin')).toBe(false)
    await expect(storage.get('projects/p/a.bin')).rejects.toBeInstanceOf(VisionNotFoundError)
    await expect(storage.getStream('projects/p/a.bin')).rejects.toBeInstanceOf(VisionNotFoundError)
    await storage.deletePrefix('projects/p')
    expect(existsSync(join(dir, 'projects/p'))).toBe(false)
  })

  it('a failed streamed put leaves the previous object and no temp file', async () => {
    await storage.put('k/obj', new Uint8Array([7]))
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('partial')
        throw new Error('source failed')
      })(),
    )
    await expect(storage.put('k/obj', failing)).rejects.toThrow('source failed')
    expect(await storage.get('k/obj')).toEqual(new Uint8Array([7]))
    expect(readdirSync(join(dir, '.tmp'))).toEqual([])
  })

  it.each(['../x', '/abs', 'a/../../x', 'a//b', '', '.tmp/x', 'a\\b', 'a/./b'])(
    'refuses the key %j',
    async (key) => {
      await expect(storage.put(key, new Uint8Array(1))).rejects.toBeInstanceOf(ConfigurationError)
      await expect(storage.get(key)).rejects.toBeInstanceOf(ConfigurationError)
    },
  )
})
