import { fail } from './errors.js'
import type { Input } from './wire.js'

/** Read and validate a wire `Tags` list (`[{TagKey, TagValue}]`). Internal. */
export function readTags(input: Input, field = 'Tags'): { TagKey: string; TagValue: string }[] | undefined {
  const v = input[field]
  if (v === undefined || v === null) return undefined
  // Precondition: Tags is a list of at most 50 {TagKey, TagValue}.
  if (!Array.isArray(v) || v.length > 50) throw fail.tag(`${field} must be a list of at most 50 tags.`)
  return v.map((t: unknown) => {
    const tag = t as { TagKey?: unknown; TagValue?: unknown }
    // Precondition: TagKey 1-128 characters, TagValue 0-256, no reserved aws: prefix.
    if (typeof tag?.TagKey !== 'string' || tag.TagKey.length < 1 || tag.TagKey.length > 128) {
      throw fail.tag('TagKey must be 1 to 128 characters.')
    }
    if (typeof tag.TagValue !== 'string' || tag.TagValue.length > 256)
      throw fail.tag('TagValue must be 0 to 256 characters.')
    if (tag.TagKey.toLowerCase().startsWith('aws:'))
      throw fail.tag('Tag keys beginning with aws: are reserved.')
    return { TagKey: tag.TagKey, TagValue: tag.TagValue }
  })
}

/** Merge tags (new values replace existing keys). Internal. */
export function mergeTags(
  existing: { TagKey: string; TagValue: string }[],
  added: { TagKey: string; TagValue: string }[],
): { TagKey: string; TagValue: string }[] {
  const map = new Map(existing.map((t) => [t.TagKey, t.TagValue]))
  for (const t of added) map.set(t.TagKey, t.TagValue)
  // Postcondition: at most 50 tags on a key.
  if (map.size > 50) throw fail.tag('A KMS key can have at most 50 tags.')
  return [...map].map(([TagKey, TagValue]) => ({ TagKey, TagValue }))
}
