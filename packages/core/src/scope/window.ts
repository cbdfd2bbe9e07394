import { ConfigurationError } from '../errors/errors.js'

/** A key window: new data is encrypted under one version from `start` (inclusive) to `end` (exclusive). */
export interface KeyWindow {
  readonly start: number
  /** `null`: no window, the version is used until rotated. */
  readonly end: number | null
}

/**
 * The window containing `now`, aligned to the Unix epoch (hourly windows start on the hour, UTC), so every
 * process computes the same boundaries. With no `windowMs`, an open-ended window starting at `now`.
 *
 * @example
 * ```ts
 * keyWindow(Date.parse('2026-01-01T10:20:00Z'), 3_600_000) // { start: 10:00, end: 11:00 }
 * ```
 */
export function keyWindow(now: number, windowMs: number | undefined): KeyWindow {
  if (windowMs === undefined) return { start: now, end: null }
  const start = now - (((now % windowMs) + windowMs) % windowMs)
  return { start, end: start + windowMs }
}

/** Validate a window length: a whole number of ms, at least one second. */
export function assertWindowMs(windowMs: number | undefined): number | undefined {
  // Precondition: undefined, or an integer >= 1000 ms.
  if (windowMs !== undefined && (!Number.isSafeInteger(windowMs) || windowMs < 1000)) {
    throw new ConfigurationError(
      `keyWindowMs ${windowMs} is invalid.`,
      'Use a whole number of milliseconds, at least 1000 (e.g. 3_600_000 for hourly keys), or leave it out for keys that change only on rotate().',
    )
  }
  return windowMs
}
