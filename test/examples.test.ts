// Every example runs end to end (against the embedded local KMS) as part of the test suite.
import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const dir = new URL('../examples/', import.meta.url)
const examples = readdirSync(dir).filter(
  (f) => f.endsWith('.ts') && !['run-all.ts', 'is-main.ts'].includes(f),
)

describe('examples', () => {
  it('exist', () => expect(examples).toContain('quickstart.ts'))
  for (const file of examples) {
    it(`${file} runs end to end`, async () => {
      const lines: string[] = []
      const mod = (await import(new URL(file, dir).href)) as {
        main: (log: (l: string) => void) => Promise<void>
      }
      await mod.main((l) => lines.push(l))
      expect(lines.length).toBeGreaterThan(0)
    }, 120_000)
  }
})
