/** What a command gets besides its parsed arguments. */
import type { Readable, Writable } from 'node:stream'
import type { MaybeTty } from './io.js'

/** @internal The resolved run environment of one command. */
export interface CommandContext {
  readonly stdin: Readable & MaybeTty
  readonly stdout: Writable & MaybeTty
  readonly stderr: Writable & MaybeTty
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly signal: AbortSignal | undefined
}
