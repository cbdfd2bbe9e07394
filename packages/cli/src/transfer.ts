/** Run input → [progress] → transform → output as one pipeline; publish the output only on success. */
import type { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { KmsEnvelopeError } from '@kms-envelope/core'
import type { CommandContext } from './context.js'
import { FileAccessError, InterruptedError } from './errors.js'
import type { Input, Output } from './files.js'
import { ProgressMeter, wantProgress } from './progress.js'

/** @internal Translate a stream failure into a typed error (KMS and format errors pass through). */
function streamError(err: unknown, input: Input, output: Output, signal?: AbortSignal): unknown {
  if (err instanceof KmsEnvelopeError) return err
  if (signal?.aborted || (err as { name?: unknown })?.name === 'AbortError')
    return new InterruptedError({ cause: err })
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    const path = (err as { path?: unknown }).path
    const writing =
      code === 'EPIPE' ||
      code === 'ENOSPC' ||
      code === 'EDQUOT' ||
      (path !== undefined && path !== input.path)
    return new FileAccessError(writing ? 'write' : 'read', writing ? output.name : input.name, err)
  }
  return err
}

/**
 * @internal Stream `input` through `transform` into `output`. On success the output is committed (renamed
 * into place); on any failure it is aborted (temp file removed) and the typed error is thrown.
 */
export async function transfer(
  ctx: CommandContext,
  input: Input,
  transform: Transform,
  output: Output,
  progress: { readonly explicit: boolean; readonly label: string },
): Promise<void> {
  const stages: NodeJS.ReadWriteStream[] = []
  if (wantProgress(progress.explicit, ctx.stderr.isTTY, input.size)) {
    stages.push(new ProgressMeter(ctx.stderr, progress.label, input.size))
  }
  try {
    // output.stream is a file or a wrapper around stdout (ending it leaves stdout open).
    await pipeline(
      [input.stream, ...stages, transform, output.stream],
      ctx.signal ? { signal: ctx.signal } : {},
    )
    await output.commit()
  } catch (err) {
    await output.abort()
    throw streamError(err, input, output, ctx.signal)
  } finally {
    await input.close()
  }
}
