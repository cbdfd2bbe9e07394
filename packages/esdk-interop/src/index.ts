/** @kms-envelope/esdk-interop: Interoperability of kms-envelope with the AWS Encryption SDK message format: read ESDK messages with the same KMS keys and migrate them to the kms-envelope format. */
export const PACKAGE = '@kms-envelope/esdk-interop'
