import { randomUUID } from 'node:crypto'
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandOutput,
  PutItemCommand,
  type PutItemCommandOutput,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb'
import {
  type AuditEvent,
  ConfigurationError,
  type CreateResult,
  type KeyStore,
  KeyStoreError,
  type ScopeKeyVersion,
  type ScopeRecord,
} from '@kms-envelope/core'
import {
  AUDIT_PREFIX,
  auditFromItem,
  auditToItem,
  type Item,
  pk,
  SCOPE_SK,
  scopeFromItem,
  scopeToItem,
  VERSION_PREFIX,
  versionFromItem,
  versionSk,
  versionToItem,
} from './item-codec.js'

/** Options of {@link DynamoDbKeyStore}. */
export interface DynamoDbKeyStoreOptions {
  /** A `DynamoDBClient` from `@aws-sdk/client-dynamodb`. */
  readonly client: DynamoDBClient
  /** The table (create it with {@link createKeyStoreTable}): key `pk` (S, hash) + `sk` (S, range). */
  readonly tableName: string
  /** Items per Query/Scan page (DynamoDB's `Limit`) when listing; default: DynamoDB's 1 MB pages. */
  readonly pageSize?: number
}

type OutputOf<C> = C extends GetItemCommand
  ? GetItemCommandOutput
  : C extends QueryCommand
    ? QueryCommandOutput
    : C extends ScanCommand
      ? ScanCommandOutput
      : PutItemCommandOutput

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string })?.name === 'ConditionalCheckFailedException'
}

/**
 * A key store in DynamoDB, for fleets that outgrow one machine. Every create is a conditional PutItem
 * (`attribute_not_exists(pk)`), so two processes creating the same window's version agree on one; every
 * update is a PutItem conditional on the record's revision, so it replaces the whole item atomically (a
 * reader sees the old or the new item). Reads are strongly consistent.
 *
 * Items hold only KMS-wrapped keys and metadata. Needs `dynamodb:GetItem`, `PutItem`, `Query` and `Scan`
 * (`listScopes` and `listAudit()` without a scope scan the table) on the table. Point-in-time recovery
 * and backups keep wrapped keys of destroyed versions until they expire: see the crypto-shredding limits in
 * the README.
 *
 * @example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
 * import { KeyHierarchy } from '@kms-envelope/core'
 * import { DynamoDbKeyStore, createKeyStoreTable } from '@kms-envelope/keystore-dynamodb'
 *
 * const client = new DynamoDBClient({ region: 'us-east-1' })
 * await createKeyStoreTable(client, 'scope-keys')
 * const store = new DynamoDbKeyStore({ client, tableName: 'scope-keys' })
 * const hierarchy = new KeyHierarchy({ kms, rootKeyId, store, keyWindowMs: 3_600_000 })
 * ```
 */
export class DynamoDbKeyStore implements KeyStore {
  readonly tableName: string
  readonly #client: DynamoDBClient
  readonly #limit: { Limit?: number }
  #auditSequence = 0

  constructor(options: DynamoDbKeyStoreOptions) {
    // Precondition: a client and a table name.
    if (typeof options?.client?.send !== 'function' || !options.tableName) {
      throw new ConfigurationError(
        'DynamoDbKeyStore needs a DynamoDB client and a table name.',
        "Pass { client: new DynamoDBClient({ region }), tableName: 'scope-keys' }.",
      )
    }
    this.#client = options.client
    this.tableName = options.tableName
    this.#limit = options.pageSize ? { Limit: options.pageSize } : {}
  }

  async getScope(scopeId: string): Promise<ScopeRecord | undefined> {
    const item = await this.#get(pk(scopeId), SCOPE_SK)
    return item && scopeFromItem(item)
  }

  async createScope(record: ScopeRecord): Promise<CreateResult<ScopeRecord>> {
    if (await this.#putIfAbsent(scopeToItem(record))) return { created: true, record }
    const existing = await this.getScope(record.scopeId)
    if (!existing) throw this.#unavailable(new Error('scope item vanished after a failed create'))
    return { created: false, record: existing }
  }

  async updateScope(record: ScopeRecord, expectedRevision: number): Promise<boolean> {
    return this.#putIfRevision(scopeToItem(record), expectedRevision)
  }

  async listScopes(): Promise<string[]> {
    const items = await this.#scanAll('sk = :scope', { ':scope': { S: SCOPE_SK } }, 'scopeId')
    const ids: string[] = []
    for (const item of items) if (item.scopeId?.S !== undefined) ids.push(item.scopeId.S)
    return ids.sort()
  }

  async getVersion(scopeId: string, version: number): Promise<ScopeKeyVersion | undefined> {
    const item = await this.#get(pk(scopeId), versionSk(version))
    return item && versionFromItem(item)
  }

  async latestVersion(scopeId: string): Promise<ScopeKeyVersion | undefined> {
    const out = await this.#send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
        ExpressionAttributeValues: { ':pk': { S: pk(scopeId) }, ':v': { S: VERSION_PREFIX } },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    )
    const item = out.Items?.[0]
    return item && versionFromItem(item)
  }

  async listVersions(scopeId: string): Promise<ScopeKeyVersion[]> {
    return (await this.#queryPrefix(scopeId, VERSION_PREFIX)).map(versionFromItem)
  }

  async createVersion(record: ScopeKeyVersion): Promise<CreateResult<ScopeKeyVersion>> {
    if (await this.#putIfAbsent(versionToItem(record))) return { created: true, record }
    const existing = await this.getVersion(record.scopeId, record.version)
    if (!existing) throw this.#unavailable(new Error('version item vanished after a failed create'))
    return { created: false, record: existing }
  }

  async updateVersion(record: ScopeKeyVersion, expectedRevision: number): Promise<boolean> {
    return this.#putIfRevision(versionToItem(record), expectedRevision)
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    const id = `${String(++this.#auditSequence).padStart(10, '0')}-${randomUUID()}`
    await this.#send(new PutItemCommand({ TableName: this.tableName, Item: auditToItem(event, id) }))
  }

  async listAudit(scopeId?: string): Promise<AuditEvent[]> {
    if (scopeId !== undefined) return (await this.#queryPrefix(scopeId, AUDIT_PREFIX)).map(auditFromItem)
    const items = await this.#scanAll('begins_with(sk, :a)', { ':a': { S: AUDIT_PREFIX } })
    return items.sort((a, b) => (a.sk!.S! < b.sk!.S! ? -1 : a.sk!.S! > b.sk!.S! ? 1 : 0)).map(auditFromItem)
  }

  /** Every item matching `filter`, across all scan pages (a full-table scan: admin listings only). */
  #scanAll(filter: string, values: Record<string, AttributeValue>, projection?: string): Promise<Item[]> {
    return this.#allPages(
      (start) =>
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: filter,
          ExpressionAttributeValues: values,
          ...(projection ? { ProjectionExpression: projection } : {}),
          ConsistentRead: true,
          ...this.#limit,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
    )
  }

  /** Run a paginated Scan or Query until its last page; returns every item. */
  async #allPages(command: (start: Item | undefined) => ScanCommand | QueryCommand): Promise<Item[]> {
    const items: Item[] = []
    let start: Item | undefined
    do {
      const out = await this.#send(command(start))
      items.push(...(out.Items ?? []))
      start = out.LastEvaluatedKey
    } while (start)
    return items
  }

  async #get(partition: string, sort: string): Promise<Item | undefined> {
    const out = await this.#send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: partition }, sk: { S: sort } },
        ConsistentRead: true,
      }),
    )
    return out.Item
  }

  #queryPrefix(scopeId: string, prefix: string): Promise<Item[]> {
    return this.#allPages(
      (start) =>
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': { S: pk(scopeId) }, ':p': { S: prefix } },
          ConsistentRead: true,
          ...this.#limit,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
    )
  }

  async #putIfAbsent(item: Item): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      return true
    } catch (err) {
      if (isConditionFailure(err)) return false
      throw this.#unavailable(err)
    }
  }

  async #putIfRevision(item: Item, expectedRevision: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: '#rev = :expected',
          ExpressionAttributeNames: { '#rev': 'revision' },
          ExpressionAttributeValues: { ':expected': { N: String(expectedRevision) } },
        }),
      )
      return true
    } catch (err) {
      if (isConditionFailure(err)) return false
      throw this.#unavailable(err)
    }
  }

  async #send<C extends GetItemCommand | PutItemCommand | QueryCommand | ScanCommand>(
    command: C,
  ): Promise<OutputOf<C>> {
    try {
      return (await this.#client.send(command as never)) as unknown as OutputOf<C>
    } catch (err) {
      throw this.#unavailable(err)
    }
  }

  #unavailable(err: unknown): KeyStoreError {
    if (err instanceof KeyStoreError) return err
    const name = (err as { name?: string })?.name ?? 'Error'
    return new KeyStoreError(
      'UNAVAILABLE',
      `The DynamoDB key store (table ${this.tableName}) failed: ${name}.`,
      name === 'ResourceNotFoundException'
        ? 'Create the table first (createKeyStoreTable) and check the region.'
        : 'Check the table, the region, network access and the IAM permissions (GetItem, PutItem, Query, Scan); retry if DynamoDB throttled.',
      { cause: err },
    )
  }
}
