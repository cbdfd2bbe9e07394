/**
 * Stream plumbing for the benchmarks: a source that yields one chunk `count` times (data generated once,
 * no allocation per chunk), and a sink that counts and discards.
 */
import { Readable, Writable } from 'node:stream'

/**
 * A Readable producing `total` bytes in `chunk`-sized slices of one random buffer.
 *
 * @example
 * ```ts
 * await pipeline(repeatSource(buf, 64 << 20), transform, countingSink())
 * ```
 */
export function repeatSource(chunk: Buffer, total: number): Readable {
  let left = total
  return new Readable({
    highWaterMark: chunk.length,
    read() {
      if (left <= 0) return void this.push(null)
      const n = Math.min(left, chunk.length)
      left -= n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  })
}

/** A Writable that discards everything; `bytes` says how much it got. */
export interface CountingSink extends Writable {
  readonly bytes: number
}

/**
 * A sink that counts bytes and drops them.
 *
 * @example
 * ```ts
 * const sink = countingSink(); await pipeline(src, sink); console.log(sink.bytes)
 * ```
 */
export function countingSink(): CountingSink {
  let bytes = 0
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length
      done()
    },
    writev(chunks, done) {
      for (const c of chunks) bytes += (c.chunk as Buffer).length
      done()
    },
  })
  Object.defineProperty(sink, 'bytes', { get: () => bytes })
  return sink as CountingSink
}

/**
 * A sink that keeps every chunk (to build the ciphertext for decrypt runs).
 *
 * @example
 * ```ts
 * const { sink, chunks } = collectingSink()
 * ```
 */
export function collectingSink(): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk)
      done()
    },
  })
  return { sink, chunks }
}

/**
 * A Readable producing `data` in `chunkSize` slices (no copies).
 *
 * @example
 * ```ts
 * await pipeline(sliceSource(ciphertext, 65536), decryptStream, countingSink())
 * ```
 */
export function sliceSource(data: Buffer, chunkSize: number): Readable {
  let offset = 0
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (offset >= data.length) return void this.push(null)
      const end = Math.min(data.length, offset + chunkSize)
      this.push(data.subarray(offset, end))
      offset = end
    },
  })
}
