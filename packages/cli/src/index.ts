/** @kms-envelope/cli: Command-line tool for kms-envelope: encrypt, decrypt and inspect files and streams with AWS KMS (or a local KMS endpoint), scope-key administration. */
export const PACKAGE = '@kms-envelope/cli'
