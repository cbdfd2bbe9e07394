// Spawn and talk to test/scope/scope-child.ts (a real separate Node process running TypeScript via tsx).
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const script = fileURLToPath(new URL('./scope-child.ts', import.meta.url))

export interface Reply {
  ok: boolean
  ct?: string
  created?: boolean
  text?: string
  code?: string
  message?: string
}

export class ScopeChild {
  readonly #child: ChildProcess
  readonly #replies: Reply[] = []
  readonly #waiters: ((r: Reply) => void)[] = []
  #stderr = ''

  constructor(config: object) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.#child.stderr!.on('data', (d) => {
      this.#stderr += String(d)
    })
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply
      const waiter = this.#waiters.shift()
      if (waiter) waiter(reply)
      else this.#replies.push(reply)
    })
  }

  /** Send a command and wait for its reply. */
  async request(command: object, timeoutMs = 60_000): Promise<Reply> {
    this.#child.stdin!.write(`${JSON.stringify(command)}\n`)
    const queued = this.#replies.shift()
    if (queued) return queued
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child did not answer ${JSON.stringify(command)}; stderr: ${this.#stderr}`)),
        timeoutMs,
      )
      this.#waiters.push((r) => {
        clearTimeout(timer)
        resolve(r)
      })
    })
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((r) => this.#child.once('exit', r))
    this.#child.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`)
    const timer = setTimeout(() => this.#child.kill(), 10_000)
    await exited
    clearTimeout(timer)
  }
}
