import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { CreateAliasCommand, DisableKeyCommand, UpdateAliasCommand } from '@aws-sdk/client-kms'
import {
  ConfigurationError,
  EncryptionContextMismatchError,
  Envelope,
  InvalidKeyError,
  inspect,
  KeyAccessDeniedError,
  KeyDisabledError,
  KmsKeyring,
  TamperedCiphertextError,
} from '@kms-envelope/core'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  FileStorage,
  type ImportProgress,
  SourceChangedError,
  VisionNotFoundError,
  VisionProject,
  VisionRecordError,
  type VisionStorage,
} from '../src/index.js'
import { CUSTOMER, customerKeyPolicy, type World, world } from './helpers.js'

let w: World

beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

/** A source directory with labelled images, a hidden file and a non-image. */
function sourceImages(count = 6): { dir: string; files: Map<string, Buffer> } {
  const dir = join(w.dir, 'source')
  const files = new Map<string, Buffer>()
  for (let i = 0; i < count; i++) {
    const label = i % 3 === 0 ? 'anomaly' : 'normal'
    mkdirSync(join(dir, label), { recursive: true })
    const name = `${label}/img-${i}.${i % 2 ? 'png' : 'JPG'}`
    // A PNG/JPEG-looking header then random pixels; sizes across frame boundaries (256 KiB frames).
    const bytes = Buffer.concat([Buffer.from(`\x89PNG image ${i} `), randomBytes(1000 + i * 70_000)])
    writeFileSync(join(dir, name), bytes)
    files.set(name, bytes)
  }
  writeFileSync(join(dir, '.DS_Store'), 'hidden')
  writeFileSync(join(dir, 'normal', 'notes.txt'), 'not an image')
  return { dir, files }
}

function storagePath(key: string): string {
  return join(w.dir, 'storage', ...key.split('/'))
}

describe('VisionProject.create', () => {
  it('uses the service key by default and records it', async () => {
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    expect(project.keyArn).toBe(w.serviceKeyArn)
    expect(project.keyKind).toBe('service-owned')
    // The record is sealed under the service key, bound to the project (what it says is read on open).
    const sealed = readFileSync(storagePath('projects/pcb/project.kenv'))
    expect(inspect(sealed).encryptedDataKeys.map((k) => k.keyId)).toEqual([w.serviceKeyArn])
    expect(inspect(sealed).context).toEqual({ project: 'pcb', object: 'project-record' })
    const reopened = await VisionProject.open({ ...w.config, name: 'pcb' })
    expect([reopened.keyArn, reopened.keyKind]).toEqual([w.serviceKeyArn, 'service-owned'])
  })

  it("uses the customer's symmetric key when given", async () => {
    const project = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    expect(project.keyKind).toBe('customer-managed')
    await project.saveModel(new Uint8Array([1, 2, 3]))
    const ct = readFileSync(storagePath('projects/pcb/models/1.model.kenv'))
    expect(inspect(ct).encryptedDataKeys.map((k) => k.keyId)).toEqual([w.customerKeyArn])
  })

  it.each([
    ['ECC_NIST_P256', 'SIGN_VERIFY'],
    ['RSA_2048', 'SIGN_VERIFY'],
  ] as const)(
    'refuses an asymmetric %s key with InvalidKeyError and stores nothing',
    async (KeySpec, KeyUsage) => {
      const asymmetric = await w.newKey({ KeySpec, KeyUsage, Policy: customerKeyPolicy(true) })
      const err = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: asymmetric }).catch(
        (e) => e,
      )
      expect(err).toBeInstanceOf(InvalidKeyError)
      expect((err as InvalidKeyError).reason).toBe('KEY_SPEC')
      expect(await w.config.storage.has('projects/pcb/project.kenv')).toBe(false)
    },
  )

  it('refuses a disabled key, a key the service may not use, a bad name, an existing project', async () => {
    const disabled = await w.newKey({ Policy: customerKeyPolicy(true) })
    await w.customer.send(new DisableKeyCommand({ KeyId: disabled }))
    await expect(
      VisionProject.create({ ...w.config, name: 'a', kmsKeyArn: disabled }),
    ).rejects.toBeInstanceOf(KeyDisabledError)
    const private_ = await w.newKey({ Policy: customerKeyPolicy(false) })
    await expect(
      VisionProject.create({ ...w.config, name: 'b', kmsKeyArn: private_ }),
    ).rejects.toBeInstanceOf(KeyAccessDeniedError)
    await expect(VisionProject.create({ ...w.config, name: '../etc' })).rejects.toBeInstanceOf(
      ConfigurationError,
    )
    await expect(VisionProject.create({ ...w.config, serviceKeyArn: '', name: 'c' })).rejects.toBeInstanceOf(
      ConfigurationError,
    )
    await VisionProject.create({ ...w.config, name: 'd' })
    await expect(VisionProject.create({ ...w.config, name: 'd' })).rejects.toBeInstanceOf(ConfigurationError)
  })
})

describe('importImages', () => {
  it('makes encrypted copies, leaves the sources untouched, round-trips exactly', async () => {
    const { dir, files } = sourceImages(6)
    const before = new Map([...files.keys()].map((name) => [name, statSync(join(dir, name))]))
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    const progress: ImportProgress[] = []
    const result = await project.importImages(dir, { onProgress: (p) => progress.push(p) })

    // Only the images, sorted, labelled by folder; hidden files and other extensions skipped.
    expect(result.images.map((e) => e.image)).toEqual([...files.keys()].sort())
    expect(progress.map((p) => p.index)).toEqual([1, 2, 3, 4, 5, 6])
    expect(progress.at(-1)!.totalBytes).toBe([...files.values()].reduce((n, b) => n + b.length, 0))

    for (const [name, bytes] of files) {
      // Sources: same bytes, same mtime.
      const now = statSync(join(dir, name))
      expect(readFileSync(join(dir, name)).equals(bytes)).toBe(true)
      expect(now.mtimeMs).toBe(before.get(name)!.mtimeMs)
      // Copies: ciphertext under the service key with the image's context.
      const ct = readFileSync(storagePath(`projects/pcb/images/train/${name}.kenv`))
      expect(ct.includes(bytes.subarray(0, 64))).toBe(false)
      const info = inspect(ct)
      expect(info.framed).toBe(true)
      expect(info.encryptedDataKeys.map((k) => k.keyId)).toEqual([w.serviceKeyArn])
      // The image's own pairs, and the mark of a data key shared by the dataset (not sent to KMS: see data-keys.test.ts).
      expect(info.context).toEqual({
        project: 'pcb',
        object: 'image',
        dataset: 'train',
        image: name,
        'data-key': 'per-dataset',
      })
      // Round trip, whole and streamed.
      expect(Buffer.from(await project.readImage(name)).equals(bytes)).toBe(true)
      const chunks: Buffer[] = []
      for await (const c of await project.imageStream(name)) chunks.push(c as Buffer)
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
    }

    // The manifest: labels and plaintext digests, readable only through the project.
    const manifest = await project.listImages('train')
    expect(manifest).toHaveLength(6)
    for (const e of manifest) {
      const bytes = files.get(e.image)!
      expect(e.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
      expect(e.bytes).toBe(bytes.length)
      expect(e.label).toBe(e.image.split('/')[0])
      expect(e['source-ref']).toBe(`projects/pcb/images/train/${e.image}.kenv`)
    }
    expect(await project.listImages('test')).toEqual([])
  })

  it('imports a list of files into the test dataset; a re-import replaces entries', async () => {
    const { dir } = sourceImages(3)
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    const list = [join(dir, 'anomaly/img-0.JPG'), join(dir, 'normal/img-1.png')]
    await project.importImages(list, { dataset: 'test', label: () => 'unlabelled' })
    await project.importImages(list, { dataset: 'test' })
    const entries = await project.listImages('test')
    expect(entries.map((e) => [e.image, e.label])).toEqual([
      ['img-0.JPG', undefined],
      ['img-1.png', undefined],
    ])
    await expect(project.importImages([list[0]!, list[0]!])).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('a missing source directory or file: ConfigurationError naming it, with a remedy; copies made so far listed', async () => {
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    const missing = join(w.dir, 'no-such-photos')
    const err = await project.importImages(missing).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigurationError)
    expect(err).toMatchObject({ code: 'ERR_CONFIGURATION', cause: { code: 'ENOENT' } })
    expect((err as Error).message).toContain(missing)
    expect((err as ConfigurationError).remedy).toMatch(/existing/)
    const { dir } = sourceImages(2)
    const gone = join(dir, 'normal', 'deleted.png')
    const err2 = await project.importImages([join(dir, 'anomaly/img-0.JPG'), gone]).catch((e: unknown) => e)
    expect(err2).toBeInstanceOf(ConfigurationError)
    expect((err2 as Error).message).toContain(gone)
    expect((await project.listImages()).map((e) => e.image)).toEqual(['img-0.JPG'])
  })

  it('a source that changes during its copy: SourceChangedError, copy discarded, earlier copies listed', async () => {
    const { dir } = sourceImages(3)
    const victim = join(dir, 'normal/img-1.png')
    const inner = new FileStorage({ directory: join(w.dir, 'storage') })
    // A storage whose upload of img-1 coincides with another program writing to the source.
    const storage: VisionStorage = {
      put: (key, body) => {
        if (key.endsWith('img-1.png.kenv')) appendFileSync(victim, 'more pixels')
        return inner.put(key, body)
      },
      get: (key) => inner.get(key),
      getStream: (key) => inner.getStream(key),
      has: (key) => inner.has(key),
      list: (prefix) => inner.list(prefix),
      delete: (key) => inner.delete(key),
      deletePrefix: (prefix) => inner.deletePrefix(prefix),
    }
    const project = await VisionProject.create({ ...w.config, storage, name: 'pcb' })
    const err = await project.importImages(dir).catch((e) => e)
    expect(err).toBeInstanceOf(SourceChangedError)
    expect((err as SourceChangedError).file).toBe(victim)
    expect(await storage.has('projects/pcb/images/train/normal/img-1.png.kenv')).toBe(false)
    // anomaly/img-0 was copied before the failure and is listed; nothing after it.
    expect((await project.listImages()).map((e) => e.image)).toEqual(['anomaly/img-0.JPG'])
  })
  it('a re-imported source that changes during its copy keeps the earlier copy its manifest entry names', async () => {
    const { dir, files } = sourceImages(3)
    const victim = join(dir, 'normal/img-1.png')
    const inner = new FileStorage({ directory: join(w.dir, 'storage') })
    let touch = false
    const storage: VisionStorage = {
      put: (key, body) => {
        if (touch && key.endsWith('img-1.png.kenv')) appendFileSync(victim, 'more pixels')
        return inner.put(key, body)
      },
      get: (key) => inner.get(key),
      getStream: (key) => inner.getStream(key),
      has: (key) => inner.has(key),
      list: (prefix) => inner.list(prefix),
      delete: (key) => inner.delete(key),
      deletePrefix: (prefix) => inner.deletePrefix(prefix),
    }
    const project = await VisionProject.create({ ...w.config, storage, name: 'pcb' })
    await project.importImages(dir)
    touch = true
    await expect(project.importImages(dir)).rejects.toBeInstanceOf(SourceChangedError)
    const entry = (await project.listImages()).find((e) => e.image === 'normal/img-1.png')!
    const copy = await project.readImage('normal/img-1.png')
    expect(Buffer.from(copy).equals(files.get('normal/img-1.png')!)).toBe(true)
    expect(createHash('sha256').update(copy).digest('hex')).toBe(entry.sha256)
  })

  it('streams: the storage receives frame-sized pieces while the source is still being read', async () => {
    const src = join(w.dir, 'big')
    mkdirSync(src)
    const big = randomBytes(3 * 1024 * 1024 + 17)
    writeFileSync(join(src, 'big.png'), big)
    const inner = new FileStorage({ directory: join(w.dir, 'storage') })
    const pieces: number[] = []
    const storage: VisionStorage = {
      put: (key, body) => {
        if (body instanceof Uint8Array) return inner.put(key, body)
        return inner.put(
          key,
          (async function* () {
            for await (const chunk of body) {
              pieces.push(chunk.length)
              yield chunk
            }
          })(),
        )
      },
      get: (key) => inner.get(key),
      getStream: (key) => inner.getStream(key),
      has: (key) => inner.has(key),
      list: (prefix) => inner.list(prefix),
      delete: (key) => inner.delete(key),
      deletePrefix: (prefix) => inner.deletePrefix(prefix),
    }
    const project = await VisionProject.create({ ...w.config, storage, name: 'pcb' })
    await project.importImages(src)
    // 3 MiB in frames of the stored copy's frame length: a piece per frame or smaller, never the whole image.
    const copyKey = (await inner.list('projects')).find((k) => k.includes('big.png'))!
    const { frameLength } = inspect(await inner.get(copyKey))
    expect(frameLength).toBeLessThan(big.length / 2)
    expect(pieces.length).toBeGreaterThanOrEqual(Math.floor(big.length / frameLength))
    expect(Math.max(...pieces)).toBeLessThan(frameLength + 4096)
    expect(Buffer.from(await project.readImage('big.png')).equals(big)).toBe(true)
  })
})

describe('manifest and models', () => {
  it('are unreadable without the key and round-trip with it', async () => {
    const { dir } = sourceImages(2)
    const project = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    await project.importImages(dir)
    const model = randomBytes(700_000)
    const saved = await project.saveModel(model)
    expect(saved).toMatchObject({ version: 1, bytes: model.length })
    expect(
      (await project.saveModel(Readable.from([model.subarray(0, 10), model.subarray(10)]))).version,
    ).toBe(2)
    expect(await project.listModels()).toEqual([1, 2])

    const manifestCt = readFileSync(storagePath('projects/pcb/manifests/train.manifest.jsonl.kenv'))
    const modelCt = readFileSync(storagePath('projects/pcb/models/1.model.kenv'))
    expect(manifestCt.includes('img-0')).toBe(false)
    expect(modelCt.includes(model.subarray(0, 64))).toBe(false)
    expect(inspect(manifestCt).context).toEqual({ project: 'pcb', object: 'manifest', dataset: 'train' })
    expect(inspect(modelCt).context).toEqual({ project: 'pcb', object: 'model', model: '1' })

    // Someone with another key (here: the service key) cannot open them.
    const other = new Envelope({
      keyring: new KmsKeyring({ client: w.serviceClient, generatorKeyId: w.serviceKeyArn }),
    })
    await expect(other.decrypt(new Uint8Array(modelCt))).rejects.toBeInstanceOf(InvalidKeyError)
    // A principal without access to the customer key cannot either.
    const privateKey = await w.newKey({ Policy: customerKeyPolicy(false) })
    const locked = await VisionProject.create({
      ...w.config,
      kms: w.customer, // the customer acting as the service, with a service key of its own
      serviceKeyArn: await w.newKey({ Description: "the customer's stand-in service key" }),
      name: 'locked',
      kmsKeyArn: privateKey,
    })
    await locked.saveModel(model)
    const lockedCt = readFileSync(storagePath('projects/locked/models/1.model.kenv'))
    const strangerPrivate = new Envelope({
      keyring: new KmsKeyring({ client: w.serviceClient, generatorKeyId: privateKey }),
    })
    await expect(strangerPrivate.decrypt(new Uint8Array(lockedCt))).rejects.toBeInstanceOf(
      KeyAccessDeniedError,
    )

    expect(Buffer.from(await project.loadModel(1)).equals(model)).toBe(true)
    const chunks: Buffer[] = []
    for await (const c of await project.modelStream(2)) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).equals(model)).toBe(true)
    await expect(project.loadModel(3)).rejects.toBeInstanceOf(VisionNotFoundError)
    await expect(project.loadModel(0)).rejects.toBeInstanceOf(ConfigurationError)
  })
  it('property: any chunking of any model bytes round-trips', async () => {
    const project = await VisionProject.create({ ...w.config, name: 'prop' })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 6 }), async (chunks) => {
        const { version, bytes } = await project.saveModel(Readable.from(chunks.map((c) => Buffer.from(c))))
        const expected = Buffer.concat(chunks)
        expect(bytes).toBe(expected.length)
        expect(Buffer.from(await project.loadModel(version)).equals(expected)).toBe(true)
      }),
      { numRuns: 25 },
    )
  })
})

describe('reading back', () => {
  it('a disabled key fails reads with KeyDisabledError', async () => {
    const { dir, files } = sourceImages(2)
    const created = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    await created.importImages(dir)
    const reader = await VisionProject.open({ ...w.config, name: 'pcb' })
    await w.customer.send(new DisableKeyCommand({ KeyId: w.customerKeyArn }))
    const [name] = files.keys()
    await expect(reader.readImage(name!)).rejects.toBeInstanceOf(KeyDisabledError)
    await expect(reader.importImages(dir, { dataset: 'test' })).rejects.toBeInstanceOf(KeyDisabledError)
    await expect(reader.saveModel(new Uint8Array(8))).rejects.toBeInstanceOf(KeyDisabledError)
    await expect(reader.listImages()).rejects.toBeInstanceOf(KeyDisabledError)
    await expect(VisionProject.open({ ...w.config, name: 'pcb' })).rejects.toBeInstanceOf(KeyDisabledError)
  })

  it('an image copied to another path, dataset or project fails its context check', async () => {
    const { dir } = sourceImages(3)
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    const other = await VisionProject.create({ ...w.config, name: 'other' })
    await project.importImages(dir)
    const from = storagePath('projects/pcb/images/train/anomaly/img-0.JPG.kenv')
    const moves: [string, () => Promise<unknown>][] = [
      ['projects/pcb/images/train/normal/img-1.png.kenv', () => project.readImage('normal/img-1.png')],
      [
        'projects/pcb/images/test/anomaly/img-0.JPG.kenv',
        () => project.readImage('anomaly/img-0.JPG', { dataset: 'test' }),
      ],
      ['projects/other/images/train/anomaly/img-0.JPG.kenv', () => other.readImage('anomaly/img-0.JPG')],
      ['projects/pcb/models/1.model.kenv', () => project.loadModel(1)],
    ]
    for (const [to, read] of moves) {
      mkdirSync(join(storagePath(to), '..'), { recursive: true })
      copyFileSync(from, storagePath(to))
      await expect(read()).rejects.toBeInstanceOf(EncryptionContextMismatchError)
    }
    const streamed = await project.imageStream('normal/img-1.png')
    await expect(
      (async () => {
        for await (const _ of streamed) {
          /* drain */
        }
      })(),
    ).rejects.toBeInstanceOf(EncryptionContextMismatchError)
  })

  it('a modified copy fails with TamperedCiphertextError', async () => {
    const { dir } = sourceImages(2)
    const project = await VisionProject.create({ ...w.config, name: 'pcb' })
    await project.importImages(dir)
    const path = storagePath('projects/pcb/images/train/normal/img-1.png.kenv')
    const ct = readFileSync(path)
    ct[ct.length - 40]! ^= 1
    writeFileSync(path, ct)
    await expect(project.readImage('normal/img-1.png')).rejects.toBeInstanceOf(TamperedCiphertextError)
  })

  it('open() accepts the pinned customer key as an alias ARN (compared once resolved)', async () => {
    const alias = `arn:aws:kms:us-east-1:${CUSTOMER}:alias/vision-pcb`
    await w.customer.send(
      new CreateAliasCommand({ AliasName: 'alias/vision-pcb', TargetKeyId: w.customerKeyArn }),
    )
    await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: alias })
    const opened = await VisionProject.open({ ...w.config, name: 'pcb', expectedKeyArn: alias })
    expect(opened.keyArn).toBe(w.customerKeyArn)
    // Re-pointed to another key: the alias no longer names the project's key.
    const other = await w.newKey({ Policy: customerKeyPolicy(true) })
    await w.customer.send(new UpdateAliasCommand({ AliasName: 'alias/vision-pcb', TargetKeyId: other }))
    await expect(
      VisionProject.open({ ...w.config, name: 'pcb', expectedKeyArn: alias }),
    ).rejects.toBeInstanceOf(ConfigurationError)
  })

  it('open() re-validates: missing project, wrong expected key, plain JSON metadata, bad paths', async () => {
    await expect(VisionProject.open({ ...w.config, name: 'nope' })).rejects.toBeInstanceOf(
      VisionNotFoundError,
    )
    const project = await VisionProject.create({ ...w.config, name: 'pcb', kmsKeyArn: w.customerKeyArn })
    await expect(
      VisionProject.open({ ...w.config, name: 'pcb', expectedKeyArn: w.serviceKeyArn }),
    ).rejects.toBeInstanceOf(ConfigurationError)
    expect(
      (await VisionProject.open({ ...w.config, name: 'pcb', expectedKeyArn: w.customerKeyArn })).keyArn,
    ).toBe(w.customerKeyArn)
    // Metadata written as plain JSON (as by an earlier version, or by hand) is not a sealed record.
    writeFileSync(
      storagePath('projects/pcb/project.kenv'),
      JSON.stringify({
        type: 'lookoutvision-project',
        name: 'pcb',
        keyArn: w.serviceKeyArn,
        keyKind: 'service-owned',
      }),
    )
    const err = await VisionProject.open({ ...w.config, name: 'pcb' }).catch((e) => e)
    expect(err).toBeInstanceOf(VisionRecordError)
    expect((err as VisionRecordError).reason).toBe('TAMPERED')
    writeFileSync(storagePath('projects/pcb/project.kenv'), '{not json')
    await expect(VisionProject.open({ ...w.config, name: 'pcb' })).rejects.toBeInstanceOf(VisionRecordError)
    for (const bad of ['../x.png', '/etc/passwd', 'a//b.png', 'a\\b.png', '']) {
      await expect(project.readImage(bad)).rejects.toBeInstanceOf(ConfigurationError)
    }
    await expect(project.readImage('missing.png')).rejects.toBeInstanceOf(VisionNotFoundError)
    await project.delete()
    expect(await w.config.storage.list('projects/pcb')).toEqual([])
  })
})
