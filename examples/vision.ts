/**
 * Lookout for Vision / Rekognition style: a project whose training images are copied encrypted (the
 * sources stay as they are), an encrypted manifest and model, a project under a customer's own key, a
 * refused asymmetric key, a moved copy caught by its encryption context, a swapped metadata record refused
 * (records are sealed under the service key), and a face collection whose vectors are stored encrypted.
 *
 * Run: `npx tsx examples/vision.ts` (or `npx -y pnpm@10 demo` for every example).
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { EncryptionContextMismatchError, InvalidKeyError, inspect } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { FaceCollection, FileStorage, VisionProject, VisionRecordError } from '@kms-envelope/vision'
import { isMain } from './is-main.js'

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const kms = await LocalKms.create()
  const dir = mkdtempSync(join(tmpdir(), 'vision-example-'))
  try {
    const client = kms.client()
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'vision service key' }))
    // The service's configuration: its KMS client, its storage, its own key (the "AWS owned key").
    const service = {
      kms: client,
      storage: new FileStorage({ directory: join(dir, 'storage') }),
      serviceKeyArn: KeyMetadata!.Arn!,
    }

    // 1. A few generated "images" in a source directory, labelled by folder.
    const source = join(dir, 'photos')
    for (const [i, label] of ['normal', 'normal', 'anomaly', 'normal', 'anomaly'].entries()) {
      mkdirSync(join(source, label), { recursive: true })
      writeFileSync(join(source, label, `board-${i}.png`), randomBytes(20_000 + i * 150_000))
    }
    const sample = join(source, 'anomaly', 'board-2.png')
    const before = { bytes: readFileSync(sample), mtimeMs: statSync(sample).mtimeMs }

    // 2. A project with the default (service) key: encryption is always on.
    const project = await VisionProject.create({ ...service, name: 'circuit-boards' })
    log(`project ${project.name}: ${project.keyKind} key ${project.keyArn}`)
    const result = await project.importImages(source, {
      onProgress: (p) => log(`  copied ${p.index}/${p.total} ${p.image} (${p.bytes} bytes)`),
    })
    const copy = readFileSync(
      join(dir, 'storage', 'projects/circuit-boards/images/train/anomaly/board-2.png.kenv'),
    )
    const info = inspect(copy)
    log(
      `copy of anomaly/board-2.png: ${copy.length} bytes of ciphertext, context ${JSON.stringify(info.context)}`,
    )
    const untouched =
      readFileSync(sample).equals(before.bytes) && statSync(sample).mtimeMs === before.mtimeMs
        ? 'unchanged'
        : 'CHANGED'
    log(
      `source file: ${untouched}; read back equal: ${Buffer.from(await project.readImage('anomaly/board-2.png')).equals(before.bytes)}`,
    )
    const manifest = await project.listImages()
    log(
      `encrypted manifest: ${manifest.length} entries, labels ${[...new Set(manifest.map((e) => e.label))].join('/')}, ${result.totalBytes} bytes imported`,
    )

    // 3. A model, encrypted by default.
    const { version, bytes } = await project.saveModel(randomBytes(300_000))
    log(
      `model v${version}: ${bytes} bytes saved encrypted, ${(await project.loadModel(version)).length} bytes loaded`,
    )
    const calls = project.kmsCalls()
    log(
      `KMS calls: ${calls.generateDataKey} GenerateDataKey (one data key for the 5 images of the dataset, one for the manifest, one for the model), ${calls.decrypt} Decrypt`,
    )

    // 4. The customer's own symmetric key instead of the service's: the copies, manifest and models under it.
    const cmk = await client.send(new CreateKeyCommand({ Description: 'customer vision key' }))
    const own = await VisionProject.create({
      ...service,
      name: 'customer-boards',
      kmsKeyArn: cmk.KeyMetadata!.Arn!,
    })
    await own.importImages([sample])
    const ownCopy = readFileSync(
      join(dir, 'storage', 'projects/customer-boards/images/train/board-2.png.kenv'),
    )
    const wrapping = inspect(ownCopy).encryptedDataKeys.map((k) => k.keyId)
    log(
      `project ${own.name}: ${own.keyKind} key; copy's data key wrapped by ${wrapping.join(', ') === cmk.KeyMetadata!.Arn! ? 'that key' : `ANOTHER KEY ${wrapping.join(', ')}`}`,
    )

    // 5. Failures: an asymmetric key is refused; a copy moved to another image's path fails its context check.
    const rsa = await client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))
    try {
      await VisionProject.create({ ...service, name: 'rsa-project', kmsKeyArn: rsa.KeyMetadata!.Arn! })
    } catch (err) {
      if (!(err instanceof InvalidKeyError)) throw err
      log(`asymmetric key refused: ${err.code} (${err.reason})`)
    }
    const images = join(dir, 'storage', 'projects/circuit-boards/images/train')
    copyFileSync(join(images, 'anomaly/board-2.png.kenv'), join(images, 'normal/board-0.png.kenv'))
    try {
      await project.readImage('normal/board-0.png')
    } catch (err) {
      if (!(err instanceof EncryptionContextMismatchError)) throw err
      log(`moved copy refused: ${err.code} on "${err.key}"`)
    }
    // Someone with write access to the storage puts the customer project's metadata record in place of this
    // one's, to move it to the customer's key: the record is sealed for the other project, so it is refused.
    const projects = join(dir, 'storage', 'projects')
    const ownRecord = join(projects, 'circuit-boards', 'project.kenv')
    const genuine = readFileSync(ownRecord)
    copyFileSync(join(projects, 'customer-boards', 'project.kenv'), ownRecord)
    try {
      await VisionProject.open({ ...service, name: 'circuit-boards' })
      throw new Error('expected the swapped record to be refused')
    } catch (err) {
      if (!(err instanceof VisionRecordError)) throw err
      writeFileSync(ownRecord, genuine) // restored from a backup
      const reopened = await VisionProject.open({ ...service, name: 'circuit-boards' })
      log(
        `swapped metadata record refused: ${err.code} (${err.reason}), project ${reopened.name} stays on ${reopened.keyArn === project.keyArn ? 'its own key' : `ANOTHER KEY ${reopened.keyArn}`}`,
      )
    }

    // 6. A face collection: vectors stored encrypted, searched by cosine similarity.
    const faces = await FaceCollection.create({ ...service, collectionId: 'staff', dimension: 128 })
    const embeddings = Array.from({ length: 4 }, () =>
      Float32Array.from({ length: 128 }, () => Math.random() - 0.5),
    )
    for (const [i, v] of embeddings.entries()) await faces.indexFace(v, `badge-${1000 + i}`)
    const probe = embeddings[2]!.map((x) => x + (Math.random() - 0.5) * 0.02)
    const [best] = await faces.searchFaces(probe, { threshold: 90, maxResults: 1 })
    const faceCalls = faces.kmsCalls()
    log(
      `face search: ${best?.externalImageId} at ${best?.similarity.toFixed(2)}% (${(await faces.listFaces()).length} faces, each its own encrypted record; ${faceCalls.generateDataKey} GenerateDataKey, ${faceCalls.decrypt} Decrypt)`,
    )
    await faces.delete()
  } finally {
    await kms.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) await main()
