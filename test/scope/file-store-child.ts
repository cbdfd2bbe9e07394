// A separate process hammering one FileKeyStore record with conditional updates and audit appends.
// argv: <directory> <updates> <name>
import { FileKeyStore } from '../../packages/core/src/scope/index.js'

const [directory, count, name] = process.argv.slice(2) as [string, string, string]
const store = new FileKeyStore({ directory })
let retries = 0
for (let i = 0; i < Number(count); i++) {
  for (;;) {
    const current = (await store.getVersion('shared', 1))!
    const next = { ...current, createdBy: `${name}-${i}`, revision: current.revision + 1 }
    if (await store.updateVersion(next, current.revision)) break
    retries++
  }
  await store.appendAudit({
    at: Date.now(),
    actor: name,
    action: 'rewrap-version',
    scopeId: 'shared',
    version: 1,
    detail: `${name} update ${i} ${'x'.repeat(200)}`,
  })
}
process.stdout.write(JSON.stringify({ name, retries }))
