/**
 * The build every package shares (imported by each `packages/<name>/tsup.config.ts`): ESM + CJS + `.d.ts`
 * for Node 20 from the given entry points, with source maps.
 */
import type { Options } from 'tsup'

export function packageBuild(entry: string[] = ['src/index.ts']): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    treeshake: true,
  }
}
