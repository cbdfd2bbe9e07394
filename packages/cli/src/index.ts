/**
 * @kms-envelope/cli — the `kms-envelope` command: encrypt, decrypt and inspect files and streams with AWS
 * KMS (or a local KMS endpoint), and administer scope keys. `run(argv, io)` is the whole CLI, callable in
 * process; the `kms-envelope` bin only wires it to the process.
 *
 * @packageDocumentation
 */
export { parsePairs } from './args.js'
export { FileAccessError, InterruptedError, OutputExistsError, UsageError } from './errors.js'
export { ExitCode, exitCodeFor } from './exit-codes.js'
export type { CliIo, MaybeTty } from './io.js'
export { type KmsSettings, type KmsTarget, kmsClients, resolveKms, resolveRegion } from './kms.js'
export { printable } from './printable.js'
export { MAIN_HELP, run } from './run.js'
export { VERSION } from './version.js'
