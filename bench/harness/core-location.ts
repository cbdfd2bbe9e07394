/**
 * Where `@kms-envelope/core` is loaded from. The benchmark must measure the built package users get
 * (packages/core/dist, reached through bench/node_modules/@kms-envelope/core → package.json `exports`), not the
 * TypeScript sources that the root tsconfig.json `paths` map the name to. `pnpm bench` therefore runs
 * `tsx --tsconfig bench/tsconfig.json` (no `paths`), and bench/run.ts refuses to run on the sources when a
 * build exists.
 */
import { existsSync } from 'node:fs'
import { relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Repository root (absolute path, no trailing separator). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '')

/** The built entry point of core that `import` reaches through the package's `exports`. */
export const CORE_DIST = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url))

/** A resolved location of `@kms-envelope/core`. */
export interface CoreLocation {
  /** Path relative to the repository root, `/`-separated, e.g. `packages/core/dist/index.js`. */
  readonly path: string
  /** `dist`: the built package; `src`: the TypeScript sources; `other`: anything else (e.g. an installed copy). */
  readonly kind: 'dist' | 'src' | 'other'
}

/**
 * Classify a resolved module URL (as returned by `import.meta.resolve`) relative to `root`.
 *
 * @example
 * ```ts
 * classifyCore('file:///repo/packages/core/dist/index.js', '/repo')
 * // → { path: 'packages/core/dist/index.js', kind: 'dist' }
 * ```
 */
export function classifyCore(resolvedUrl: string, root: string = ROOT): CoreLocation {
  // Precondition: a file: URL (a data:/node: URL would mean something else entirely answered the import).
  if (!resolvedUrl.startsWith('file:')) return { path: resolvedUrl, kind: 'other' }
  const path = relative(root, fileURLToPath(resolvedUrl)).split(sep).join('/')
  const kind = path.startsWith('packages/core/dist/')
    ? 'dist'
    : path.startsWith('packages/core/src/')
      ? 'src'
      : 'other'
  return { path, kind }
}

/**
 * Throw if core was resolved to its sources although a build exists (the numbers would not be the
 * package's). Sources without a build are allowed (`tsx bench/run.ts` before any `pnpm build`); the report
 * says so.
 *
 * @example
 * ```ts
 * assertBuiltCore(coreLocation(), existsSync(CORE_DIST))
 * ```
 */
export function assertBuiltCore(location: CoreLocation, distExists: boolean): void {
  // Precondition: with a build present, the benchmark runs on it.
  if (location.kind === 'src' && distExists) {
    throw new Error(
      `bench: @kms-envelope/core resolved to ${location.path} (TypeScript sources) although ` +
        'packages/core/dist exists; run through `pnpm bench` (tsx --tsconfig bench/tsconfig.json) so the ' +
        'built package is measured',
    )
  }
}

/**
 * The report's line about where core came from, e.g. `core: packages/core/dist/index.js (built package)`.
 *
 * @example
 * ```ts
 * coreLine({ path: 'packages/core/dist/index.js', kind: 'dist' })
 * ```
 */
export function coreLine(location: CoreLocation): string {
  const note =
    location.kind === 'dist'
      ? 'built package, through its exports'
      : location.kind === 'src'
        ? 'TypeScript sources, not the built package: no build found'
        : 'neither this repository’s build nor its sources'
  return `core: ${location.path} (${note})`
}

/**
 * Where `@kms-envelope/core` resolves from in this process (same loader hooks and tsconfig as the
 * benchmark's own imports, which live in the same directory tree).
 *
 * @example
 * ```ts
 * const { kind } = coreLocation() // 'dist' under `pnpm bench`
 * ```
 */
export function coreLocation(): CoreLocation {
  return classifyCore(import.meta.resolve('@kms-envelope/core'))
}

/**
 * Whether packages/core/dist/index.js exists.
 *
 * @example
 * ```ts
 * if (!coreDistExists()) console.warn('no build: measuring the sources')
 * ```
 */
export function coreDistExists(): boolean {
  return existsSync(CORE_DIST)
}
