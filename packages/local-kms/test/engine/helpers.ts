import { expect } from 'vitest'
import {
  type CallerIdentity,
  type EngineOptions,
  KmsServiceError,
  LocalKmsEngine,
} from '../../src/engine/index.js'

export const A = '111122223333'
export const B = '444455556666'
export const SERVICE_ROLE = `arn:aws:iam::${B}:role/profiles-service`

/** Two accounts: A (customer: root, user alice, role app via a service) and B (service: root, a role). */
export const twoAccountSeed = {
  accounts: [
    {
      id: A,
      name: 'customer',
      principals: [
        { arn: `arn:aws:iam::${A}:root`, accessKeyId: 'test', secretAccessKey: 'test' },
        { arn: `arn:aws:iam::${A}:user/alice`, accessKeyId: 'alice', secretAccessKey: 'alice-secret' },
        {
          arn: `arn:aws:iam::${A}:role/app`,
          accessKeyId: 'app',
          secretAccessKey: 'app-secret',
          viaService: 'profile.us-east-1.amazonaws.com',
        },
      ],
    },
    {
      id: B,
      name: 'service',
      principals: [
        { arn: `arn:aws:iam::${B}:root`, accessKeyId: 'broot', secretAccessKey: 'broot-secret' },
        { arn: SERVICE_ROLE, accessKeyId: 'svc', secretAccessKey: 'svc-secret' },
      ],
    },
  ],
}

export interface World {
  engine: LocalKmsEngine
  root: CallerIdentity
  alice: CallerIdentity
  app: CallerIdentity
  broot: CallerIdentity
  svc: CallerIdentity
  /** Call as someone; returns the wire output typed loosely. */
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON in tests
  call(who: CallerIdentity, op: string, input?: Record<string, unknown>): Promise<any>
  /** Create a symmetric key in A (as A's root), returns its ARN. */
  newKey(input?: Record<string, unknown>): Promise<string>
}

export async function world(options: EngineOptions = {}): Promise<World> {
  const engine = await LocalKmsEngine.open({ seed: twoAccountSeed, ...options })
  const as = (id: string) => engine.resolveAccessKey(id)!.caller
  const w: World = {
    engine,
    root: as('test'),
    alice: as('alice'),
    app: as('app'),
    broot: as('broot'),
    svc: as('svc'),
    call: (who, op, input = {}) => engine.call(op, input, who),
    async newKey(input = {}) {
      const out = await engine.call('CreateKey', input, w.root)
      return (out.KeyMetadata as { Arn: string }).Arn
    },
  }
  return w
}

/** Await a rejection and check it is the KMS error `type`. */
export async function rejects(p: Promise<unknown>, type: string): Promise<KmsServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, `expected ${type}`).toBeInstanceOf(KmsServiceError)
  expect((err as KmsServiceError).type).toBe(type)
  return err as KmsServiceError
}

export const b64 = (s: string) => Buffer.from(s).toString('base64')
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString()
