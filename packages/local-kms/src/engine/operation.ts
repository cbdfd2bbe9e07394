import type { EngineState } from './state.js'
import type { CallerIdentity, KeyRecord } from './types.js'
import type { Input } from './wire.js'

/** What an operation handler sees. Internal. */
export interface OpContext {
  state: EngineState
  caller: CallerIdentity
  /** Current time, epoch milliseconds. */
  now: number
  /** Audit facts the handler fills in as it learns them. */
  audit: { keys: KeyRecord[]; grantId?: string; requestParameters: Record<string, unknown> }
  /** Set when a lazy change (scheduled deletion done, automatic rotation) must be saved. */
  dirty: boolean
  /** Milliseconds after CreateGrant during which a grant needs its token in the request (EngineOptions.grantPropagationMs). */
  grantPropagationMs: number
  /** The request's GrantTokens (strings only; the operation validates them). */
  grantTokens: readonly string[]
  /** Cached parsed policies, by key ARN. */
  policyCache: Map<string, { source: string; statements: import('./policy.js').Statement[] }>
}

/** One KMS operation. Internal. */
export interface Operation {
  /** Changes persistent state (the engine saves after it succeeds). */
  mutating: boolean
  run(ctx: OpContext, input: Input): Record<string, unknown>
}
