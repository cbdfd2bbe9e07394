// KMS calls per object, counted by the local KMS itself (its CloudTrail-like audit log): the images of a
// dataset and the faces of a collection share a cached data key, while each copy stays bound to its object.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EncryptionContextMismatchError, inspect, TamperedCiphertextError } from '@kms-envelope/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaceCollection, VisionProject } from '../src/index.js'
import { type World, world } from './helpers.js'

let w: World
beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

/**
 * The KMS requests of one operation the local KMS served (successful or not) for data: not those of the
 * sealed metadata records (context object `project-record` / `collection-record`).
 */
function served(operation: string) {
  return w.kms.engine
    .auditLog()
    .filter(
      (e) =>
        e.eventName === operation &&
        !String(
          (e.requestParameters.encryptionContext as Record<string, string> | undefined)?.object,
        ).endsWith('-record'),
    )
}

function storagePath(key: string): string {
  return join(w.dir, 'storage', ...key.split('/'))
}

/** `count` small images under source/normal/img-NNN.png (same-length names), with their bytes. */
function images(count: number, folder = 'source'): { dir: string; files: Map<string, Buffer> } {
  const dir = join(w.dir, folder)
  mkdirSync(join(dir, 'normal'), { recursive: true })
  const files = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const name = `normal/img-${String(i).padStart(3, '0')}.png`
    const bytes = randomBytes(100 + ((i * 37) % 2000))
    writeFileSync(join(dir, name), bytes)
    files.set(name, bytes)
  }
  return { dir, files }
}

/** The wrapped data keys KMS returns to the service's client from now on (each is stored verbatim in its messages). */
function wrappedDataKeys(): Buffer[] {
  const blobs: Buffer[] = []
  w.serviceClient.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args)
      const blob = (result.output as { CiphertextBlob?: Uint8Array }).CiphertextBlob
      if ((args.input as { KeySpec?: string }).KeySpec === 'AES_256' && blob) blobs.push(Buffer.from(blob))
      return result
    },
    { step: 'initialize' },
  )
  return blobs
}

/** Which of `blobs` the stored copy carries (exactly one). */
function dataKeyOf(blobs: readonly Buffer[], key: string): number {
  const copy = readFileSync(storagePath(key))
  const found = blobs.flatMap((b, i) => (copy.includes(b) ? [i] : []))
  expect(found).toHaveLength(1)
  return found[0]!
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const chunks: unknown[] = []
  for await (const c of stream) chunks.push(c)
  return chunks
}

describe('a dataset copy costs O(1) GenerateDataKey', () => {
  it('100 images: one GenerateDataKey for the images and one for the manifest; sources untouched', async () => {
    const { dir, files } = images(100)
    const before = new Map([...files.keys()].map((name) => [name, statSync(join(dir, name)).mtimeMs]))
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    const blobs = wrappedDataKeys()

    const result = await project.importImages(dir)
    expect(result.images).toHaveLength(100)
    const generated = served('GenerateDataKey')
    expect(generated).toHaveLength(2)
    expect(project.kmsCalls().generateDataKey).toBe(2)
    // KMS binds the dataset; the image name is bound by each message (below), not by KMS.
    expect(generated.map((e) => e.requestParameters.encryptionContext)).toEqual([
      { project: 'pcb', object: 'image', dataset: 'train', 'data-key': 'per-dataset' },
      { project: 'pcb', object: 'manifest', dataset: 'train' },
    ])
    // Every copy names its own image in its authenticated context; all share the one wrapped data key.
    expect(blobs).toHaveLength(2)
    for (const name of files.keys()) {
      const key = `projects/pcb/images/train/${name}.kenv`
      expect(inspect(readFileSync(storagePath(key))).context.image).toBe(name)
      expect(dataKeyOf(blobs, key)).toBe(0)
    }

    // Another 100 into the test dataset: its own data key (and manifest). The train set again: cached.
    await project.importImages(images(100, 'holdout').dir, { dataset: 'test' })
    expect(served('GenerateDataKey')).toHaveLength(4)
    await project.importImages(dir)
    expect(served('GenerateDataKey')).toHaveLength(4)

    // A fresh handle reads all 100 back with one Decrypt for the images and one for the manifest.
    const decryptsBefore = served('Decrypt').length
    const reader = await VisionProject.open({ ...w.config, name: 'pcb' })
    expect((await reader.listImages()).map((e) => e.image)).toEqual([...files.keys()])
    for (const [name, bytes] of files) {
      expect(Buffer.from(await reader.readImage(name)).equals(bytes)).toBe(true)
    }
    expect(served('Decrypt').length - decryptsBefore).toBe(2)

    // Sources: same bytes, same modification time.
    for (const [name, bytes] of files) {
      expect(readFileSync(join(dir, name)).equals(bytes)).toBe(true)
      expect(statSync(join(dir, name)).mtimeMs).toBe(before.get(name))
    }
  })

  it("the cache's limits still apply: at most maxMessagesPerKey images per data key", async () => {
    const { dir, files } = images(100)
    const project = await VisionProject.create({
      ...w.config,
      cache: { maxMessagesPerKey: 10 },
      name: 'pcb',
    })
    const blobs = wrappedDataKeys()
    await project.importImages(dir)
    // 100 images / 10 per data key, and the manifest.
    expect(served('GenerateDataKey')).toHaveLength(11)
    const perKey = new Map<number, number>()
    for (const name of files.keys()) {
      const i = dataKeyOf(blobs, `projects/pcb/images/train/${name}.kenv`)
      perKey.set(i, (perKey.get(i) ?? 0) + 1)
    }
    expect([...perKey.values()]).toEqual(Array(10).fill(10))
  })

  it('swapped copies fail with a typed error, never plaintext', async () => {
    const { dir } = images(3)
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    await project.importImages(dir)
    const a = 'normal/img-000.png'
    const b = 'normal/img-001.png'
    const pathA = storagePath(`projects/pcb/images/train/${a}.kenv`)
    const pathB = storagePath(`projects/pcb/images/train/${b}.kenv`)
    const copyA = readFileSync(pathA)
    const copyB = readFileSync(pathB)

    // Swapped files: each names the other image in its context.
    renameSync(pathA, `${pathA}.swap`)
    renameSync(pathB, pathA)
    renameSync(`${pathA}.swap`, pathB)
    const reader = await VisionProject.open({ ...w.config, name: 'pcb' })
    for (const handle of [project, reader]) {
      await expect(handle.readImage(a)).rejects.toBeInstanceOf(EncryptionContextMismatchError)
      await expect(handle.readImage(b)).rejects.toBeInstanceOf(EncryptionContextMismatchError)
      const chunks: unknown[] = []
      await expect(
        (async () => {
          for await (const c of await handle.imageStream(a)) chunks.push(c)
        })(),
      ).rejects.toBeInstanceOf(EncryptionContextMismatchError)
      expect(chunks).toEqual([])
    }

    // b's copy with its header edited to name a (same data key, same KMS context): the header is
    // authenticated by the message, so the edit is caught after the data key is recovered.
    const forged = Buffer.from(copyB)
    const at = forged.indexOf(b)
    expect(at).toBeGreaterThan(0)
    forged.write(a, at)
    expect(inspect(forged).context.image).toBe(a)
    writeFileSync(pathA, forged)
    writeFileSync(pathB, copyB)
    for (const handle of [project, await VisionProject.open({ ...w.config, name: 'pcb' })]) {
      await expect(handle.readImage(a)).rejects.toBeInstanceOf(TamperedCiphertextError)
      const chunks: unknown[] = []
      await expect(
        (async () => {
          for await (const c of await handle.imageStream(a)) chunks.push(c)
        })(),
      ).rejects.toBeInstanceOf(TamperedCiphertextError)
      expect(chunks).toEqual([])
    }
    // Restored, both read again.
    writeFileSync(pathA, copyA)
    expect((await drain(await project.imageStream(a))).length).toBeGreaterThan(0)
    expect((await project.readImage(b)).length).toBeGreaterThan(0)
  })

  it('copies written with one data key each (cache: false, or an earlier version) still read', async () => {
    const { dir, files } = images(5)
    const writer = await VisionProject.create({ ...w.config, cache: false, name: 'pcb' })
    await writer.importImages(dir)
    // 5 images and the manifest, each its own data key; KMS binds the image name.
    const generated = served('GenerateDataKey')
    expect(generated).toHaveLength(6)
    expect(generated[0]!.requestParameters.encryptionContext).toEqual({
      project: 'pcb',
      object: 'image',
      dataset: 'train',
      image: 'normal/img-000.png',
    })
    const copy = readFileSync(storagePath('projects/pcb/images/train/normal/img-000.png.kenv'))
    expect(inspect(copy).context['data-key']).toBeUndefined()

    const reader = await VisionProject.open({ ...w.config, name: 'pcb' })
    for (const [name, bytes] of files) {
      expect(Buffer.from(await reader.readImage(name)).equals(bytes)).toBe(true)
    }
    // New images join the dataset's shared data key; the old copies keep theirs.
    const more = join(w.dir, 'more')
    mkdirSync(more)
    writeFileSync(join(more, 'extra.png'), randomBytes(500))
    await reader.importImages([join(more, 'extra.png')])
    expect((await reader.listImages()).map((e) => e.image)).toEqual([...files.keys(), 'extra.png'].sort())
    expect(inspect(readFileSync(storagePath('projects/pcb/images/train/extra.png.kenv'))).context).toEqual({
      project: 'pcb',
      object: 'image',
      dataset: 'train',
      image: 'extra.png',
      'data-key': 'per-dataset',
    })
  })
})

describe('face collections share a data key too', () => {
  const DIM = 8
  const vec = (i: number) => Float32Array.from({ length: DIM }, (_, j) => Math.sin(i * 7 + j) + 0.01)

  it('50 faces: one GenerateDataKey to index them, one Decrypt to search them', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
    const ids: string[] = []
    for (let i = 0; i < 50; i++) ids.push((await faces.indexFace(vec(i), `badge-${i}`)).faceId)
    const generated = served('GenerateDataKey')
    expect(generated).toHaveLength(1)
    expect(generated[0]!.requestParameters.encryptionContext).toEqual({
      collection: 'staff',
      object: 'face',
      'data-key': 'per-collection',
    })

    const reader = await FaceCollection.open({ ...w.config, collectionId: 'staff' })
    const [best] = await reader.searchFaces(vec(17), { threshold: 99, maxResults: 1 })
    expect(best).toMatchObject({ faceId: ids[17], externalImageId: 'badge-17' })
    expect(served('Decrypt')).toHaveLength(1)
  })

  it('a face record whose header names another face fails authentication, not just the context check', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
    const a = await faces.indexFace(vec(1), 'a')
    const b = await faces.indexFace(vec(2), 'b')
    const path = (id: string) => join(w.dir, 'storage', 'collections', 'staff', 'faces', `${id}.face.kenv`)
    const forged = readFileSync(path(a.faceId))
    forged.write(b.faceId, forged.indexOf(a.faceId))
    expect(inspect(forged).context.faceId).toBe(b.faceId)
    writeFileSync(path(b.faceId), forged)
    await expect(faces.getFace(b.faceId)).rejects.toBeInstanceOf(TamperedCiphertextError)
    const reader = await FaceCollection.open({ ...w.config, collectionId: 'staff' })
    await expect(reader.getFace(b.faceId)).rejects.toBeInstanceOf(TamperedCiphertextError)
    await expect(reader.searchFaces(vec(2))).rejects.toBeInstanceOf(TamperedCiphertextError)
    expect((await reader.getFace(a.faceId)).externalImageId).toBe('a')
  })
})
