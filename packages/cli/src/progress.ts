/** Progress on stderr for long runs: bytes read so far, of how many, at most five updates a second. */
import { Transform, type TransformCallback, type Writable } from 'node:stream'

/** Inputs from this size on get a progress line when stderr is a terminal. */
const PROGRESS_THRESHOLD = 16 * 1024 * 1024

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * @internal A pass-through that counts bytes and rewrites one status line on `stderr` (`\r`), with a final
 * newline when the input ended. Writes only counts, never data.
 */
export class ProgressMeter extends Transform {
  readonly #stderr: Writable
  readonly #label: string
  readonly #total: number | undefined
  readonly #intervalMs: number
  #bytes = 0
  #last = 0

  constructor(stderr: Writable, label: string, total: number | undefined, intervalMs = 200) {
    super()
    this.#stderr = stderr
    this.#label = label
    this.#total = total
    this.#intervalMs = intervalMs
  }

  get bytes(): number {
    return this.#bytes
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length
    const now = Date.now()
    if (now - this.#last >= this.#intervalMs) {
      this.#last = now
      this.#print('')
    }
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    this.#print('\n')
    callback()
  }

  #print(end: string): void {
    const total = this.#total
    const of =
      total === undefined
        ? ''
        : ` of ${human(total)} (${total === 0 ? 100 : Math.min(100, Math.floor((this.#bytes / total) * 100))}%)`
    this.#stderr.write(`\r${this.#label}: ${human(this.#bytes)}${of}${end}`)
  }
}

/** @internal Whether to show progress: `--progress`, or a terminal on stderr and a large or unknown input. */
export function wantProgress(
  explicit: boolean,
  stderrIsTty: boolean | undefined,
  size: number | undefined,
): boolean {
  if (explicit) return true
  return stderrIsTty === true && (size === undefined || size >= PROGRESS_THRESHOLD)
}
