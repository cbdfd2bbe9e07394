import { randomUUID } from 'node:crypto'
import { appendFile } from 'node:fs/promises'
import type { AuditEvent, CallerIdentity, KeyRecord } from './types.js'

function identityType(arn: string): AuditEvent['userIdentity']['type'] {
  if (/:root$/.test(arn)) return 'Root'
  if (/:user\//.test(arn)) return 'IAMUser'
  if (/:assumed-role\/|:role\//.test(arn)) return 'AssumedRole'
  if (arn.endsWith('.amazonaws.com')) return 'AWSService'
  return 'Unknown'
}

/** What the engine knows about a finished call. Internal. */
export interface AuditFacts {
  time: number
  region: string
  operation: string
  caller: CallerIdentity
  readOnly: boolean
  keys: KeyRecord[]
  requestParameters: Record<string, unknown>
  grantId?: string
  error?: { type: string; message: string }
}

/**
 * The audit trail: one CloudTrail-like event per call, kept in memory (the most recent `memoryLimit`)
 * and appended as JSON lines to a file when the engine has a data directory. Internal.
 */
export class AuditLog {
  private events: AuditEvent[] = []
  private pending: string[] = []
  private flushing: Promise<void> | null = null

  constructor(
    private readonly file: string | undefined,
    private readonly memoryLimit: number,
  ) {}

  record(facts: AuditFacts): AuditEvent {
    const event: AuditEvent = {
      eventVersion: '1.08',
      eventID: randomUUID(),
      eventTime: new Date(facts.time).toISOString(),
      eventSource: 'kms.amazonaws.com',
      eventName: facts.operation,
      awsRegion: facts.region,
      userIdentity: {
        type: identityType(facts.caller.principalArn),
        arn: facts.caller.principalArn,
        accountId: facts.caller.accountId,
        accessKeyId: facts.caller.accessKeyId,
      },
      requestParameters: facts.requestParameters,
      resources: facts.keys.map((k) => ({
        ARN: k.arn,
        accountId: k.accountId,
        type: 'AWS::KMS::Key' as const,
      })),
      recipientAccountId: facts.keys[0]?.accountId ?? facts.caller.accountId,
      readOnly: facts.readOnly,
    }
    if (facts.caller.viaService) event.userIdentity.invokedBy = facts.caller.viaService
    if (facts.grantId) event.grantId = facts.grantId
    if (facts.error) {
      event.errorCode = facts.error.type
      event.errorMessage = facts.error.message
    }
    this.events.push(event)
    if (this.events.length > this.memoryLimit * 2) this.events = this.events.slice(-this.memoryLimit)
    if (this.file) {
      this.pending.push(`${JSON.stringify(event)}\n`)
      if (!this.flushing) this.flushing = this.drain()
    }
    return event
  }

  /** The most recent events, oldest first. */
  list(): AuditEvent[] {
    return this.events.slice(-this.memoryLimit)
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.join('')
        this.pending = []
        await appendFile(this.file as string, batch, { mode: 0o600 })
      }
    } finally {
      this.flushing = null
    }
  }

  /** Wait until every recorded event is in the file. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing
    if (this.pending.length > 0) {
      this.flushing = this.drain()
      await this.flushing
    }
  }
}
