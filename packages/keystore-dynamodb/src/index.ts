/**
 * @kms-envelope/keystore-dynamodb — a DynamoDB key store for kms-envelope scope keys: conditional writes so
 * a fleet of processes agrees on each key version, strongly consistent reads, a table helper.
 *
 * @packageDocumentation
 */
export { type CreateKeyStoreTableOptions, createKeyStoreTable } from './create-table.js'
export { DynamoDbKeyStore, type DynamoDbKeyStoreOptions } from './dynamodb-key-store.js'
