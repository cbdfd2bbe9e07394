/** Longest value read from a message (key id, scope id) that an error message repeats whole. */
const MAX_SHOWN = 200

/**
 * @internal A value from an unauthenticated header, cut for an error message: a header may name 16 keys of
 * 2 KiB each, and a message repeating them all would flood logs.
 */
export function clip(value: string): string {
  return value.length <= MAX_SHOWN ? value : `${value.slice(0, MAX_SHOWN)}… (${value.length} chars)`
}
