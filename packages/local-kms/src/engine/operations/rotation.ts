import { authorize } from '../authorize.js'
import { fail } from '../errors.js'
import type { OpContext, Operation } from '../operation.js'
import { requireUsable, resolveKey, rotate } from '../resolve.js'
import type { KeyRecord } from '../types.js'
import { type Input, optInt, paginate, reqString, toWireTime } from '../wire.js'

const DAY = 86_400_000

function rotatableKey(ctx: OpContext, input: Input, action: string, crossAccount = false): KeyRecord {
  const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount })
  authorize(ctx, key, action)
  return key
}

function requireSymmetricForRotation(key: KeyRecord): void {
  // Precondition: only symmetric encryption keys rotate.
  if (key.keySpec !== 'SYMMETRIC_DEFAULT')
    throw fail.unsupported(
      `${key.arn} has KeySpec ${key.keySpec}; only symmetric encryption keys support rotation.`,
    )
}

/** Key rotation operations. Internal. */
export const rotationOperations: Record<string, Operation> = {
  EnableKeyRotation: {
    mutating: true,
    run(ctx, input) {
      const period = optInt(input, 'RotationPeriodInDays', 90, 2560) ?? 365
      const key = rotatableKey(ctx, input, 'EnableKeyRotation')
      requireUsable(key)
      requireSymmetricForRotation(key)
      key.rotationEnabled = true
      key.rotationPeriodInDays = period
      key.nextRotationDate = ctx.now + period * DAY
      return {}
    },
  },

  DisableKeyRotation: {
    mutating: true,
    run(ctx, input) {
      const key = rotatableKey(ctx, input, 'DisableKeyRotation')
      requireUsable(key)
      requireSymmetricForRotation(key)
      key.rotationEnabled = false
      delete key.nextRotationDate
      return {}
    },
  },

  GetKeyRotationStatus: {
    mutating: false,
    run(ctx, input) {
      const key = rotatableKey(ctx, input, 'GetKeyRotationStatus', true)
      if (key.keyState === 'PendingDeletion') throw fail.pendingDeletion(key.arn)
      const out: Record<string, unknown> = { KeyRotationEnabled: key.rotationEnabled, KeyId: key.arn }
      if (key.rotationEnabled) {
        out.RotationPeriodInDays = key.rotationPeriodInDays
        out.NextRotationDate = toWireTime(key.nextRotationDate as number)
      }
      return out
    },
  },

  RotateKeyOnDemand: {
    mutating: true,
    run(ctx, input) {
      const key = rotatableKey(ctx, input, 'RotateKeyOnDemand')
      requireUsable(key)
      requireSymmetricForRotation(key)
      // Precondition: AWS allows 25 on-demand rotations per key.
      if (key.rotations.filter((r) => r.rotationType === 'ON_DEMAND').length >= 25) {
        throw fail.limitExceeded(`${key.arn} has reached the limit of 25 on-demand rotations.`)
      }
      rotate(key, ctx.now, 'ON_DEMAND')
      return { KeyId: key.arn }
    },
  },

  ListKeyRotations: {
    mutating: false,
    run(ctx, input) {
      const key = rotatableKey(ctx, input, 'ListKeyRotations')
      requireSymmetricForRotation(key)
      const { page, ...rest } = paginate(key.rotations, input)
      return {
        Rotations: page.map((r) => ({
          KeyId: key.arn,
          RotationDate: toWireTime(r.rotationDate),
          RotationType: r.rotationType,
        })),
        ...rest,
      }
    },
  },
}
