/** The package version, shown by `--version`. Kept in step with package.json (a test checks it). */
export const VERSION = '0.1.0'
