/**
 * `@kms-envelope/local-kms`: an embedded AWS KMS with real semantics (key states, key policies, grants,
 * aliases, rotation, audit, persistence, faults), in process or over the KMS JSON 1.1 wire protocol.
 *
 * @example
 * ```ts
 * import { LocalKms } from '@kms-envelope/local-kms'
 * const kms = await LocalKms.create()
 * const client = kms.client() // a real @aws-sdk/client-kms KMSClient
 * ```
 *
 * @packageDocumentation
 */
export * from './engine/index.js'
export { LocalKms, type LocalKmsClientOptions, type LocalKmsOptions } from './local-kms.js'
export { isLoopback, type ListenOptions, type LocalKmsServer, listen } from './transport/http-server.js'
export { InProcessHandler } from './transport/in-process-handler.js'
export { handleKmsRequest, type KmsRequestOptions } from './transport/json-protocol.js'
export type { SignatureCheckOptions } from './transport/sigv4.js'
export type { KmsBackend, WireRequest, WireResponse } from './transport/types.js'
