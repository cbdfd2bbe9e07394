import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      '@kms-envelope/core': src('core'),
      '@kms-envelope/local-kms': src('local-kms'),
      '@kms-envelope/keystore-dynamodb': src('keystore-dynamodb'),
      '@kms-envelope/connect': src('connect'),
      '@kms-envelope/customer-profiles': src('customer-profiles'),
      '@kms-envelope/personalize': src('personalize'),
      '@kms-envelope/vision': src('vision'),
      '@kms-envelope/cli': src('cli'),
      '@kms-envelope/esdk-interop': src('esdk-interop'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
