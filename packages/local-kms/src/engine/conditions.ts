/**
 * IAM condition operators as key policies use them: String*, Arn*, Bool, Null, with the `IfExists`
 * suffix and the `ForAllValues:` / `ForAnyValue:` set prefixes. Internal.
 */
import { ownValue } from './own.js'

/** Resolves a condition key (lower-cased) to its values in the request, or undefined when absent. */
export type ConditionLookup = (key: string) => string[] | undefined

/** Shell-style match where `*` is any run and `?` one character (IAM `StringLike`). */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    ignoreCase ? 'si' : 's',
  )
  return re.test(value)
}

const asList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).map((x) =>
    typeof x === 'string' ? x : typeof x === 'boolean' ? String(x) : JSON.stringify(x),
  )

type Compare = (policyValue: string, requestValue: string) => boolean

const COMPARATORS: Record<string, { compare: Compare; negated: boolean }> = {
  stringequals: { compare: (p, r) => p === r, negated: false },
  stringnotequals: { compare: (p, r) => p === r, negated: true },
  stringequalsignorecase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  stringnotequalsignorecase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: true },
  stringlike: { compare: (p, r) => wildcardMatch(p, r), negated: false },
  stringnotlike: { compare: (p, r) => wildcardMatch(p, r), negated: true },
  arnequals: { compare: (p, r) => p === r, negated: false },
  arnnotequals: { compare: (p, r) => p === r, negated: true },
  arnlike: { compare: (p, r) => wildcardMatch(p, r), negated: false },
  arnnotlike: { compare: (p, r) => wildcardMatch(p, r), negated: true },
  bool: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
}

/** Thrown (as MalformedPolicyDocumentException by the caller) for an operator the engine does not know. */
export class UnknownOperatorError extends Error {}

/** Check that every operator of a Condition block is supported. */
export function validateConditionBlock(block: unknown): void {
  // Precondition: a Condition block is an object of operator → { key: value(s) }.
  if (typeof block !== 'object' || block === null || Array.isArray(block))
    throw new UnknownOperatorError('Condition must be an object.')
  for (const [op, entries] of Object.entries(block)) {
    const base = op
      .toLowerCase()
      .replace(/^for(allvalues|anyvalue):/, '')
      .replace(/ifexists$/, '')
    // Precondition: the operator is one the engine evaluates.
    if (base !== 'null' && !ownValue(COMPARATORS, base))
      throw new UnknownOperatorError(`Unsupported condition operator ${op}.`)
    if (typeof entries !== 'object' || entries === null)
      throw new UnknownOperatorError(`Condition ${op} must be an object.`)
  }
}

/** Evaluate one Condition block: every operator and every key in it must hold (logical AND). */
export function evaluateConditions(
  block: Record<string, Record<string, unknown>>,
  lookup: ConditionLookup,
): boolean {
  for (const [rawOp, entries] of Object.entries(block)) {
    let op = rawOp.toLowerCase()
    let set: 'all' | 'any' | undefined
    if (op.startsWith('forallvalues:')) {
      set = 'all'
      op = op.slice('forallvalues:'.length)
    } else if (op.startsWith('foranyvalue:')) {
      set = 'any'
      op = op.slice('foranyvalue:'.length)
    }
    const ifExists = op.endsWith('ifexists')
    if (ifExists) op = op.slice(0, -'ifexists'.length)
    for (const [key, raw] of Object.entries(entries)) {
      const policyValues = asList(raw)
      const requestValues = lookup(key.toLowerCase())
      if (op === 'null') {
        const wantAbsent = policyValues.some((v) => v.toLowerCase() === 'true')
        const absent = requestValues === undefined || requestValues.length === 0
        if (wantAbsent !== absent) return false
        continue
      }
      const cmp = ownValue(COMPARATORS, op)
      if (!cmp) return false
      const matchesOne = (r: string) => policyValues.some((p) => cmp.compare(p, r))
      if (set === 'all') {
        // ForAllValues: true when every request value matches (vacuously true when absent or empty).
        if (!requestValues || requestValues.length === 0) continue
        const ok = requestValues.every((r) => (cmp.negated ? !matchesOne(r) : matchesOne(r)))
        if (!ok) return false
        continue
      }
      if (set === 'any') {
        // ForAnyValue: true when at least one request value matches (false when absent).
        if (!requestValues || requestValues.length === 0) return false
        const ok = requestValues.some((r) => (cmp.negated ? !matchesOne(r) : matchesOne(r)))
        if (!ok) return false
        continue
      }
      if (requestValues === undefined || requestValues.length === 0) {
        // Absent key: IfExists holds; negated operators hold; positive operators fail.
        if (ifExists || cmp.negated) continue
        return false
      }
      const matched = requestValues.some(matchesOne)
      if (cmp.negated ? matched : !matched) return false
    }
  }
  return true
}
