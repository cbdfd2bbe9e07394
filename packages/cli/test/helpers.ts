import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { CreateKeyCommand } from '@aws-sdk/client-kms'
import { type CliIo, run } from '@kms-envelope/cli'
import { LocalKms } from '@kms-envelope/local-kms'

/** A local KMS listening on 127.0.0.1 with one key, and the environment a CLI run needs to reach it. */
export interface Harness {
  kms: LocalKms
  endpoint: string
  keyArn: string
  env: Record<string, string>
  close(): Promise<void>
}

export async function startKms(): Promise<Harness> {
  const kms = await LocalKms.create()
  const server = await kms.listen({ port: 0 })
  const { KeyMetadata } = await kms.client().send(new CreateKeyCommand({ Description: 'cli test' }))
  return {
    kms,
    endpoint: server.endpoint,
    keyArn: KeyMetadata!.Arn!,
    env: {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: kms.region,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    close: () => kms.close(),
  }
}

class Sink extends Writable {
  chunks: Buffer[] = []
  isTTY = false
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
    this.chunks.push(chunk)
    cb()
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }
  get text(): string {
    return this.bytes.toString('utf8')
  }
}

export interface Result {
  code: number
  stdout: Buffer
  out: string
  err: string
}

/** Run the CLI in process. `stdin` may be bytes or a stream; `tty` marks stdout/stderr as terminals. */
export async function cli(
  argv: string[],
  options: {
    env?: Record<string, string>
    cwd?: string
    stdin?: Uint8Array | Readable
    signal?: AbortSignal
    tty?: boolean
    /** Replace stdout (e.g. a stream that fails). */
    stdout?: Writable
  } = {},
): Promise<Result> {
  const stdout = new Sink()
  const stderr = new Sink()
  stdout.isTTY = options.tty ?? false
  stderr.isTTY = options.tty ?? false
  const stdin =
    options.stdin instanceof Readable
      ? options.stdin
      : Readable.from(options.stdin ? [Buffer.from(options.stdin)] : [])
  const io: CliIo = {
    stdin,
    stdout: options.stdout ?? stdout,
    stderr,
    env: options.env ?? {},
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  }
  const code = await run(argv, io)
  return { code, stdout: stdout.bytes, out: stdout.text, err: stderr.text }
}

export function tempDir(): { dir: string; files: () => string[]; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kms-envelope-cli-'))
  return {
    dir,
    files: () => readdirSync(dir).sort(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export { PassThrough }
