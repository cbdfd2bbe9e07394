/**
 * Input and output for encrypt/decrypt. Output files are written to a private temp file next to the
 * target and moved into place only after the whole stream succeeded, so a failed or interrupted run never
 * leaves a partial (or unauthenticated) file under the requested name.
 */
import { randomBytes } from 'node:crypto'
import { constants, type ReadStream, type Stats } from 'node:fs'
import { type FileHandle, link, lstat, open, realpath, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { type Readable, Writable } from 'node:stream'
import { FileAccessError, OutputExistsError, UsageError } from './errors.js'

/** An opened input: a stream, its size when it is a regular file, and a name for messages. */
export interface Input {
  readonly stream: Readable
  readonly size: number | undefined
  readonly name: string
  /** The resolved path (files only). */
  readonly path: string | undefined
  close(): Promise<void>
}

/** @internal Open `--in` (a path, or `-`/absent for stdin). Fails early (before any KMS call) with ERR_IO. */
export async function openInput(spec: string | undefined, stdin: Readable, cwd: string): Promise<Input> {
  if (spec === undefined || spec === '-') {
    return { stream: stdin, size: undefined, name: 'stdin', path: undefined, close: async () => {} }
  }
  const path = resolve(cwd, spec)
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY)
  } catch (err) {
    throw new FileAccessError('read', spec, err)
  }
  let stat: Stats
  try {
    stat = await handle.stat()
  } catch (err) {
    await handle.close()
    throw new FileAccessError('read', spec, err)
  }
  // Precondition: a regular file (or a FIFO/device), not a directory.
  if (stat.isDirectory()) {
    await handle.close()
    throw new UsageError(`--in ${spec} is a directory.`, 'Pass a file, or - for stdin.')
  }
  const stream: ReadStream = handle.createReadStream({ autoClose: true })
  return {
    stream,
    size: stat.isFile() ? stat.size : undefined,
    name: spec,
    path,
    close: async () => {
      stream.destroy()
    },
  }
}

/** Where the output goes; `commit()` publishes it, `abort()` removes every trace of it. */
export interface Output {
  readonly stream: Writable
  readonly name: string
  /** Publish the output (rename the temp file into place). Call once, after the stream finished. */
  commit(): Promise<void>
  /** Remove the temp file (idempotent; safe after a failed commit). */
  abort(): Promise<void>
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false
    throw err
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => {
    try {
      return await realpath(p)
    } catch {
      return p
    }
  }
  return (await real(a)) === (await real(b))
}

/** Move `temp` to `target` unless `target` exists (atomically via link() where the filesystem has hard links). */
async function publishNoReplace(temp: string, target: string): Promise<void> {
  try {
    // link() fails with EEXIST if someone created the target meanwhile: no overwrite, even in a race.
    await link(temp, target)
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err
    // No hard links here (some network or FAT filesystems): check, then rename.
    if (await exists(target)) throw Object.assign(new Error('target exists'), { code: 'EEXIST' })
    await rename(temp, target)
    return
  }
  await unlink(temp)
}

/**
 * @internal A Writable that forwards to `stdout` without owning it: a failed pipeline destroys this
 * wrapper, never the caller's stdout (which `run` may share with its embedder), and stdout errors such as
 * EPIPE (`| head`) fail the pipeline instead of crashing the process.
 */
function stdoutSink(stdout: Writable): Writable {
  let failure: Error | undefined
  const onError = (err: Error) => {
    failure = err
  }
  stdout.on('error', onError)
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (failure) return callback(failure)
      stdout.write(chunk, (err) => callback(err ?? failure ?? null))
    },
    final(callback) {
      callback(failure ?? null)
    },
    destroy(err, callback) {
      // After a failure stdout may still emit the same error a tick later (EPIPE): keep listening then,
      // so that late event does not become an unhandled 'error'.
      if (!err) stdout.off('error', onError)
      callback(err)
    },
  })
}

/** Options for {@link createOutput}. */
export interface OutputOptions {
  readonly spec: string | undefined
  readonly stdout: Writable
  readonly cwd: string
  readonly force: boolean
  /** File mode of a new output file (0o600 for plaintext). */
  readonly mode: number
  /** The input path, to refuse writing over the input. */
  readonly inputPath: string | undefined
}

/**
 * @internal Prepare `--out`: stdout for `-`/absent; otherwise refuse an existing file without `force`,
 * refuse the input file itself, and open a new temp file (O_EXCL, `mode`) in the target directory.
 */
async function createOutput(options: OutputOptions): Promise<Output> {
  const { spec } = options
  if (spec === undefined || spec === '-') {
    const stream = stdoutSink(options.stdout)
    return { stream, name: 'stdout', commit: async () => {}, abort: async () => void stream.destroy() }
  }
  const target = resolve(options.cwd, spec)
  // Precondition: never write over the input (the temp-and-rename would destroy it before it is read).
  if (options.inputPath !== undefined && (await samePath(options.inputPath, target))) {
    throw new UsageError(`--out ${spec} is the input file.`, 'Write to another file.')
  }
  // Precondition: no silent overwrite.
  if (!options.force && (await exists(target))) throw new OutputExistsError(spec)

  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  let handle: FileHandle
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode)
  } catch (err) {
    throw new FileAccessError('write', spec, err)
  }
  // The stream closes the handle once finished (pipeline waits for that); commit() fsyncs by path.
  const stream = handle.createWriteStream()
  let state: 'open' | 'committed' | 'aborted' = 'open'
  const closeHandle = async () => {
    try {
      await handle.close()
    } catch {
      // already closed
    }
  }
  const abort = async () => {
    if (state === 'committed') return
    state = 'aborted'
    stream.destroy()
    await closeHandle()
    await unlink(temp).catch(() => {})
  }
  return {
    stream,
    name: spec,
    abort,
    async commit() {
      // Precondition: commit once, on an open output.
      if (state !== 'open') throw new Error(`kms-envelope: output ${spec} already ${state} (bug)`)
      try {
        await closeHandle()
        const synced = await open(temp, constants.O_RDONLY)
        try {
          await synced.sync()
        } finally {
          await synced.close()
        }
        if (options.force) {
          await rename(temp, target)
        } else {
          // link() fails with EEXIST if someone created the target meanwhile: still no overwrite.
          await publishNoReplace(temp, target)
        }
        state = 'committed'
      } catch (err) {
        await abort()
        if ((err as { code?: unknown }).code === 'EEXIST') throw new OutputExistsError(spec)
        throw new FileAccessError('write', spec, err)
      }
    },
  }
}

/**
 * @internal Open `--in` and prepare `--out` for a command (see {@link openInput}, {@link createOutput}); the
 * input is closed again if the output cannot be prepared.
 */
export async function openInputOutput(
  inSpec: string | undefined,
  stdin: Readable,
  output: Omit<OutputOptions, 'inputPath'>,
): Promise<{ input: Input; output: Output }> {
  const input = await openInput(inSpec, stdin, output.cwd)
  try {
    return { input, output: await createOutput({ ...output, inputPath: input.path }) }
  } catch (err) {
    await input.close()
    throw err
  }
}
