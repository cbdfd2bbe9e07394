// Child process for the two-process lock test: opens the engine on argv[2], says "ready", then waits.
import { LocalKmsEngine } from '../../src/engine/index.js'

const engine = await LocalKmsEngine.open({ dataDir: process.argv[2] as string })
const caller = engine.resolveAccessKey('test')!.caller
await engine.call('CreateKey', { Description: 'made by the child' }, caller)
process.stdout.write('ready\n')
process.stdin.resume()
process.stdin.on('end', async () => {
  await engine.close()
  process.exit(0)
})
