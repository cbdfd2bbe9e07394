// Shared test fixture: an in-process local KMS (real KMSClient), a service key, a memory key store and a
// controllable clock.
import { CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms'
import { MemoryKeyStore } from '@kms-envelope/core'
import { LocalKms } from '@kms-envelope/local-kms'
import { ConnectDataProtection, type ConnectDataProtectionOptions } from '../src/index.js'

/** 2026-01-01T10:10:00Z: ten minutes into an hour window. */
export const START = Date.UTC(2026, 0, 1, 10, 10, 0)

export interface Fixture {
  kms: LocalKms
  client: KMSClient
  serviceKeyArn: string
  store: MemoryKeyStore
  clock: { now: number }
  connect: ConnectDataProtection
  /** KMS calls recorded by the local KMS, by operation name (optionally only successful ones). */
  calls(eventName?: string): number
  close(): Promise<void>
}

export async function createKey(client: KMSClient, input: Record<string, unknown> = {}): Promise<string> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'test key', ...input }))
  return KeyMetadata!.Arn!
}

export async function fixture(options: Partial<ConnectDataProtectionOptions> = {}): Promise<Fixture> {
  const kms = await LocalKms.create()
  const client = kms.client({ maxAttempts: 1 })
  const serviceKeyArn = await createKey(client, { Description: 'connect service-owned key' })
  const store = new MemoryKeyStore()
  const clock = { now: START }
  const connect = await ConnectDataProtection.create({
    kms: client,
    serviceKeyArn,
    store,
    actor: 'connect-test',
    clock: () => clock.now,
    ...options,
  })
  return {
    kms,
    client,
    serviceKeyArn,
    store,
    clock,
    connect,
    calls: (eventName) =>
      kms.engine
        .auditLog()
        .filter((e) => (eventName === undefined ? e.eventName !== 'CreateKey' : e.eventName === eventName))
        .length,
    close: () => kms.close(),
  }
}

/** The encryption contexts KMS saw for one operation, oldest first. */
export function kmsContexts(f: Fixture, eventName: string): Record<string, string>[] {
  return f.kms.engine
    .auditLog()
    .filter((e) => e.eventName === eventName)
    .map((e) => (e.requestParameters.encryptionContext ?? {}) as Record<string, string>)
}
