import { KmsEnvelopeError } from '@kms-envelope/core'

/**
 * The ESDK message uses a non-committing algorithm suite and the reader's commitment policy requires key
 * commitment (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT`). Raised before any KMS call.
 *
 * @example
 * ```ts
 * import { CommitmentPolicyError } from '@kms-envelope/esdk-interop'
 * try { await reader.decrypt(legacy) } catch (err) { if (err instanceof CommitmentPolicyError) console.log(err.suite) }
 * ```
 */
export class CommitmentPolicyError extends KmsEnvelopeError {
  /** The message's suite name. */
  readonly suite: string
  constructor(suite: string) {
    super(
      'ERR_COMMITMENT_POLICY',
      `The ESDK message uses ${suite}, which does not commit to its data key, and this reader requires key commitment.`,
      'To read legacy (ESDK 1.x) messages during a migration, create the reader with commitmentPolicy REQUIRE_ENCRYPT_ALLOW_DECRYPT, then migrate them to kms-envelope (always committing) and turn it back.',
    )
    this.suite = suite
  }
}
