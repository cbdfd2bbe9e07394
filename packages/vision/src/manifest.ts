/**
 * The dataset manifest: one JSON line per image (where its encrypted copy is, its label, the SHA-256 and
 * size of the plaintext). Lookout for Vision and Rekognition Custom Labels describe datasets with JSON-lines
 * manifests too; this one is always stored encrypted, because labels and plaintext digests are data.
 */
import { MalformedCiphertextError } from '@kms-envelope/core'
import type { DatasetType } from './names.js'

/**
 * One image of a dataset, as listed in the (encrypted) manifest.
 *
 * @example
 * ```ts
 * const entries: ManifestEntry[] = await project.listImages('train')
 * entries[0] // { 'source-ref': 'projects/defects/images/train/anomaly/1.png.kenv', image: 'anomaly/1.png', label: 'anomaly', … }
 * ```
 */
export interface ManifestEntry {
  /** Storage key of the encrypted copy. */
  readonly 'source-ref': string
  /** The image path within the dataset (relative to the imported directory, or the file name). */
  readonly image: string
  readonly dataset: DatasetType
  /** Label (by default the image's first folder, e.g. `normal` / `anomaly`), if any. */
  readonly label?: string
  /** SHA-256 of the source image bytes, hex. */
  readonly sha256: string
  /** Size of the source image in bytes. */
  readonly bytes: number
  /** ISO time of the import. */
  readonly importedAt: string
}

/** @internal JSON lines, sorted by image path. */
export function encodeManifest(entries: Iterable<ManifestEntry>): string {
  return [...entries]
    .sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0))
    .map((e) => `${JSON.stringify(e)}\n`)
    .join('')
}

/** @internal Parse JSON lines (already authenticated by decryption). */
export function decodeManifest(text: string): ManifestEntry[] {
  const entries: ManifestEntry[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      throw new MalformedCiphertextError('the manifest holds a line that is not JSON', { cause: err })
    }
    const e = value as Partial<ManifestEntry> | null
    // Postcondition: every line is an entry.
    if (
      typeof e?.image !== 'string' ||
      typeof e['source-ref'] !== 'string' ||
      typeof e.sha256 !== 'string' ||
      typeof e.bytes !== 'number'
    ) {
      throw new MalformedCiphertextError('the manifest holds a line that is not an image entry')
    }
    entries.push(e as ManifestEntry)
  }
  return entries
}
