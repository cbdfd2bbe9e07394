import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidKeyError,
  inspect,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FaceCollection, similarity, VisionNotFoundError, VisionProject } from '../src/index.js'
import { customerKeyPolicy, type World, world } from './helpers.js'

let w: World
beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

const DIM = 16
function vec(seed: number): Float32Array {
  // Deterministic pseudo-random unit-ish vector.
  const v = new Float32Array(DIM)
  let x = seed * 9301 + 49297
  for (let i = 0; i < DIM; i++) {
    x = (x * 9301 + 49297) % 233280
    v[i] = x / 233280 - 0.5
  }
  return v
}
function facePath(collection: string, faceId: string): string {
  return join(w.dir, 'storage', 'collections', collection, 'faces', `${faceId}.face.kenv`)
}

describe('FaceCollection', () => {
  it('indexes encrypted face records and finds the indexed face', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
    expect(faces.keyKind).toBe('service-owned')
    const ids = []
    for (let i = 1; i <= 5; i++) ids.push((await faces.indexFace(vec(i), `badge-${i}`)).faceId)
    expect((await faces.listFaces()).sort()).toEqual([...ids].sort())

    // Stored encrypted: no external image id, no float bytes; context {collection, faceId}.
    const ct = readFileSync(facePath('staff', ids[2]!))
    expect(ct.includes('badge-3')).toBe(false)
    expect(ct.includes(Buffer.from(vec(3).buffer))).toBe(false)
    expect(inspect(ct).context).toEqual({
      collection: 'staff',
      object: 'face',
      faceId: ids[2],
      'data-key': 'per-collection',
    })
    expect(inspect(ct).encryptedDataKeys[0]!.keyId).toBe(w.serviceKeyArn)

    // The same face, slightly perturbed, is the best match.
    const probe = vec(3).map((x, i) => x + (i % 2 ? 0.001 : -0.001))
    const [best, ...rest] = await faces.searchFaces(probe, { threshold: 0, maxResults: 5 })
    expect(best).toMatchObject({ faceId: ids[2], externalImageId: 'badge-3' })
    expect(best!.similarity).toBeGreaterThan(99.9)
    for (const m of rest) expect(m.similarity).toBeLessThanOrEqual(best!.similarity)
    expect(await faces.searchFaces(probe, { threshold: 0, maxResults: 2 })).toHaveLength(2)
    expect((await faces.getFace(ids[0]!)).externalImageId).toBe('badge-1')
  })

  it('wipes the face-record plaintext after encrypting it and after decrypting it', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
    const { encrypt, decrypt } = Envelope.prototype
    const sealed: Uint8Array[] = []
    const opened: Uint8Array[] = []
    vi.spyOn(Envelope.prototype, 'encrypt').mockImplementation(function (this: Envelope, data, options) {
      sealed.push(data as Uint8Array)
      return encrypt.call(this, data, options)
    })
    vi.spyOn(Envelope.prototype, 'decrypt').mockImplementation(async function (
      this: Envelope,
      message,
      options,
    ) {
      const result = await decrypt.call(this, message, options)
      opened.push(result.plaintext)
      return result
    })
    try {
      const { faceId } = await faces.indexFace(vec(1), 'badge-1')
      expect((await faces.getFace(faceId)).externalImageId).toBe('badge-1')
      expect(await faces.searchFaces(vec(1))).toHaveLength(1)
    } finally {
      vi.restoreAllMocks()
    }
    expect([sealed.length, opened.length]).toEqual([1, 2])
    for (const plaintext of [...sealed, ...opened]) {
      // Binary record: id length, id, DIM float32 (no JSON or base64 string copies of the vector).
      expect(plaintext.length).toBe(2 + 'badge-1'.length + DIM * 4)
      expect(plaintext.every((b) => b === 0)).toBe(true)
    }
  })

  it('delete() wipes the cached data keys of the collection and of a project', async () => {
    const purge = vi.spyOn(Envelope.prototype, 'purge')
    try {
      const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
      await faces.getFace((await faces.indexFace(vec(1), 'badge-1')).faceId)
      await faces.delete()
      expect(purge).toHaveBeenCalledTimes(1)
      const project = await VisionProject.create({ ...w.config, name: 'pcb' })
      await project.delete()
      expect(purge).toHaveBeenCalledTimes(2)
    } finally {
      vi.restoreAllMocks()
    }
  })

  it('respects the threshold', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: 4 })
    const { faceId } = await faces.indexFace(new Float32Array([1, 0, 0, 0]), 'a')
    await faces.indexFace(new Float32Array([0, 1, 0, 0]), 'b')
    // cos 45° = 70.7%: found at 70, not at 80.
    const probe = new Float32Array([1, 0, 1, 0])
    expect((await faces.searchFaces(probe, { threshold: 70 })).map((m) => m.faceId)).toEqual([faceId])
    expect(await faces.searchFaces(probe, { threshold: 80 })).toEqual([])
    expect(await faces.searchFaces(new Float32Array([0, 0, 1, 0]))).toEqual([])
    await expect(faces.searchFaces(probe, { threshold: 101 })).rejects.toBeInstanceOf(ConfigurationError)
    await expect(faces.searchFaces(probe, { maxResults: 0 })).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('a tampered face record fails with TamperedCiphertextError; a moved one with a context mismatch', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'staff', dimension: DIM })
    const a = await faces.indexFace(vec(1), 'a')
    const b = await faces.indexFace(vec(2), 'b')
    const ct = readFileSync(facePath('staff', a.faceId))
    writeFileSync(facePath('staff', b.faceId), ct) // a's record under b's id
    await expect(faces.getFace(b.faceId)).rejects.toBeInstanceOf(EncryptionContextMismatchError)
    await faces.deleteFace(b.faceId)
    ct[ct.length - 20]! ^= 0x40
    writeFileSync(facePath('staff', a.faceId), ct)
    await expect(faces.getFace(a.faceId)).rejects.toBeInstanceOf(TamperedCiphertextError)
    await expect(faces.searchFaces(vec(1))).rejects.toBeInstanceOf(TamperedCiphertextError)
  })

  it('deleteFace, delete collection, reopen, validation', async () => {
    const faces = await FaceCollection.create({
      ...w.config,
      collectionId: 'staff',
      dimension: DIM,
      kmsKeyArn: w.customerKeyArn,
    })
    expect(faces.keyKind).toBe('customer-managed')
    const a = await faces.indexFace(vec(1), 'a')
    await faces.indexFace(vec(2), 'b')
    expect(await faces.deleteFace(a.faceId)).toBe(true)
    expect(await faces.deleteFace(a.faceId)).toBe(false)
    expect((await faces.searchFaces(vec(1), { threshold: 99 })).map((m) => m.externalImageId)).toEqual([])
    await expect(faces.getFace(a.faceId)).rejects.toBeInstanceOf(VisionNotFoundError)

    const reopened = await FaceCollection.open({ ...w.config, collectionId: 'staff' })
    expect(reopened.dimension).toBe(DIM)
    expect((await reopened.searchFaces(vec(2), { threshold: 99 }))[0]!.externalImageId).toBe('b')

    await expect(faces.indexFace(new Float32Array(DIM + 1), 'x')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(faces.indexFace(new Float32Array(DIM), 'x')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(faces.indexFace(vec(1).fill(Number.NaN), 'x')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(faces.indexFace(vec(1), 'no spaces')).rejects.toBeInstanceOf(ConfigurationError)
    await expect(faces.deleteFace('../collection.json')).rejects.toBeInstanceOf(ConfigurationError)

    await faces.delete()
    await expect(FaceCollection.open({ ...w.config, collectionId: 'staff' })).rejects.toBeInstanceOf(
      VisionNotFoundError,
    )
  })

  it('refuses asymmetric keys', async () => {
    const key = await w.newKey({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Policy: customerKeyPolicy(true),
    })
    await expect(
      FaceCollection.create({ ...w.config, collectionId: 'x', dimension: 4, kmsKeyArn: key }),
    ).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('property: every indexed vector is its own best match at ~100%', async () => {
    const faces = await FaceCollection.create({ ...w.config, collectionId: 'prop', dimension: 8 })
    const finite = fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true })
    await fc.assert(
      fc.asyncProperty(
        fc.array(finite, { minLength: 8, maxLength: 8 }).filter((a) => a.some((x) => Math.abs(x) > 1e-3)),
        async (values) => {
          const v = new Float32Array(values)
          const { faceId } = await faces.indexFace(v, 'p')
          const matches = await faces.searchFaces(v, { threshold: 99.99, maxResults: 4096 })
          expect(matches.map((m) => m.faceId)).toContain(faceId)
          await faces.deleteFace(faceId)
        },
      ),
      { numRuns: 25 },
    )
  })
})

describe('similarity', () => {
  it('is symmetric, scale-invariant and within 0..100', () => {
    // Multiples of 0.1 (no subnormal floats, which scaling would flush to zero).
    const finite = fc.integer({ min: -1000, max: 1000 }).map((n) => n / 10)
    fc.assert(
      fc.property(
        fc.array(fc.tuple(finite, finite), { minLength: 1, maxLength: 32 }),
        fc.float({ min: Math.fround(0.1), max: 10, noNaN: true }),
        (pairs, k) => {
          const a = new Float32Array(pairs.map((p) => p[0]))
          const b = new Float32Array(pairs.map((p) => p[1]))
          const s = similarity(a, b)
          expect(s).toBeGreaterThanOrEqual(0)
          expect(s).toBeLessThanOrEqual(100)
          expect(similarity(b, a)).toBeCloseTo(s, 6)
          expect(
            similarity(
              a.map((x) => x * k),
              b,
            ),
          ).toBeCloseTo(s, 3)
        },
      ),
    )
    expect(similarity(new Float32Array([1, 2]), new Float32Array([-1, -2]))).toBe(0)
    expect(() => similarity(new Float32Array(2), new Float32Array(3))).toThrow(ConfigurationError)
  })
})
