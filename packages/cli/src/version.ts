/**
 * The package version, shown by `--version`. Kept in step with package.json (a test checks it).
 *
 * @example
 * ```ts
 * import { VERSION } from '@kms-envelope/cli'
 * console.log(`kms-envelope ${VERSION}`)
 * ```
 */
export const VERSION = '0.1.0'
