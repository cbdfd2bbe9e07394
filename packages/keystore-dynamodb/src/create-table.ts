import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateContinuousBackupsCommand,
} from '@aws-sdk/client-dynamodb'
import { KeyStoreError } from '@kms-envelope/core'

/** Options of {@link createKeyStoreTable}. */
export interface CreateKeyStoreTableOptions {
  /** Default `PAY_PER_REQUEST`. */
  readonly billingMode?: 'PAY_PER_REQUEST' | 'PROVISIONED'
  /** Read/write capacity for `PROVISIONED`. Default 5/5. */
  readonly capacity?: { readonly read: number; readonly write: number }
  /**
   * Turn on point-in-time recovery (lost scope keys mean lost data). Default false. Note: recovery points
   * keep destroyed keys for the recovery window (up to 35 days), which delays crypto-shredding by as much.
   */
  readonly pointInTimeRecovery?: boolean
  /** How long to wait for the table to become ACTIVE (ms). Default 60 000. */
  readonly timeoutMs?: number
}

/**
 * Create the key-store table (key `pk` S hash, `sk` S range) unless it exists, and wait until it is ACTIVE.
 * Idempotent: safe to call at every start. In production prefer creating the table with your
 * infrastructure code (CloudFormation/CDK/Terraform) with the same key schema.
 *
 * @example
 * ```ts
 * await createKeyStoreTable(new DynamoDBClient({ region: 'us-east-1' }), 'scope-keys', { pointInTimeRecovery: true })
 * ```
 */
export async function createKeyStoreTable(
  client: DynamoDBClient,
  tableName: string,
  options: CreateKeyStoreTableOptions = {},
): Promise<void> {
  const billingMode = options.billingMode ?? 'PAY_PER_REQUEST'
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: billingMode,
        ...(billingMode === 'PROVISIONED'
          ? {
              ProvisionedThroughput: {
                ReadCapacityUnits: options.capacity?.read ?? 5,
                WriteCapacityUnits: options.capacity?.write ?? 5,
              },
            }
          : {}),
      }),
    )
  } catch (err) {
    if ((err as { name?: string })?.name !== 'ResourceInUseException') throw unavailable(tableName, err)
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  for (;;) {
    let status: string | undefined
    try {
      status = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus
    } catch (err) {
      throw unavailable(tableName, err)
    }
    if (status === 'ACTIVE') break
    // Postcondition: ACTIVE before the deadline.
    if (Date.now() > deadline) throw unavailable(tableName, new Error(`table status ${status}`))
    await new Promise((r) => setTimeout(r, 200))
  }
  if (options.pointInTimeRecovery) {
    try {
      await client.send(
        new UpdateContinuousBackupsCommand({
          TableName: tableName,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      )
    } catch (err) {
      throw unavailable(tableName, err)
    }
  }
}

function unavailable(tableName: string, cause: unknown): KeyStoreError {
  return new KeyStoreError(
    'UNAVAILABLE',
    `Could not create the DynamoDB key-store table ${tableName}: ${(cause as Error)?.name ?? 'error'}.`,
    'Check the region, network access and the IAM permissions dynamodb:CreateTable and DescribeTable.',
    { cause },
  )
}
