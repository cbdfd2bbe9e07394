/**
 * The value `table` holds under `key` as its own property, or `undefined`. For lookups keyed by strings
 * from outside (operation names, policy operators, key specs, algorithms): a plain `table[key]` would
 * return Object's members for names such as `constructor`, `toString` or `__proto__`. Internal.
 *
 * @example
 * ```ts
 * ownValue({ SYMMETRIC_DEFAULT: 1 }, 'constructor') // undefined
 * ```
 */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}
