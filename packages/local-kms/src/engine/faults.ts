import { setTimeout as sleep } from 'node:timers/promises'
import { KmsServiceError } from './errors.js'
import { ownValue } from './own.js'

/**
 * The errors a fault rule can inject: `ThrottlingException` (400), `KMSInternalException` (500),
 * `DependencyTimeoutException` (503).
 *
 * @example
 * ```ts
 * const error: FaultError = 'ThrottlingException'
 * engine.faults.set({ operations: ['Decrypt'], error })
 * ```
 */
export type FaultError = 'ThrottlingException' | 'KMSInternalException' | 'DependencyTimeoutException'

/**
 * A fault rule: make `operations` (names like `Decrypt`, or `'*'`) fail with `error` and/or wait
 * `delayMs` first, for the next `count` calls (default: until `clear()`).
 *
 * @example
 * ```ts
 * engine.faults.set({ operations: ['GenerateDataKey'], error: 'ThrottlingException', count: 2 })
 * engine.faults.set({ operations: '*', delayMs: 200 })
 * engine.faults.clear()
 * ```
 */
export interface FaultRule {
  operations: string[] | '*'
  error?: FaultError
  delayMs?: number
  count?: number
}

const ERRORS: Record<FaultError, { status: number; message: string }> = {
  ThrottlingException: { status: 400, message: 'Rate exceeded' },
  KMSInternalException: {
    status: 500,
    message: 'An internal error occurred (injected by the local KMS fault switch).',
  },
  DependencyTimeoutException: {
    status: 503,
    message: 'The system timed out while trying to fulfill the request (injected).',
  },
}

/**
 * The fault switch of an engine. The most recently set matching rule applies; a rule with a `count`
 * retires after that many calls.
 *
 * @example
 * ```ts
 * engine.faults.set({ operations: ['Decrypt'], error: 'KMSInternalException', count: 1 })
 * ```
 */
export class FaultSwitch {
  private rules: { rule: FaultRule; remaining: number }[] = []

  /** Add a rule; it takes precedence over earlier rules for the same operations. */
  set(rule: FaultRule): void {
    // Precondition: a rule injects an error, a delay, or both.
    if (rule.error === undefined && rule.delayMs === undefined)
      throw new TypeError('A fault rule needs error and/or delayMs.')
    if (rule.error !== undefined && !ownValue(ERRORS, rule.error))
      throw new TypeError(`Unknown fault error ${String(rule.error)}.`)
    if (rule.delayMs !== undefined && (!Number.isFinite(rule.delayMs) || rule.delayMs < 0))
      throw new TypeError('delayMs must be >= 0.')
    if (rule.count !== undefined && (!Number.isInteger(rule.count) || rule.count < 1))
      throw new TypeError('count must be a positive integer.')
    this.rules.unshift({ rule: { ...rule }, remaining: rule.count ?? Number.POSITIVE_INFINITY })
  }

  /** Remove every rule. */
  clear(): void {
    this.rules = []
  }

  /** Apply the rule matching `operation`, if any: wait, then throw. Internal. */
  async apply(operation: string): Promise<void> {
    if (this.rules.length === 0) return
    const entry = this.rules.find((r) => r.rule.operations === '*' || r.rule.operations.includes(operation))
    if (!entry) return
    entry.remaining--
    if (entry.remaining <= 0) this.rules = this.rules.filter((r) => r !== entry)
    if (entry.rule.delayMs) await sleep(entry.rule.delayMs)
    if (entry.rule.error) {
      const e = ERRORS[entry.rule.error]
      throw new KmsServiceError(entry.rule.error, e.message, e.status)
    }
  }
}
