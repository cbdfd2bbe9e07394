/** @kms-envelope/customer-profiles: Amazon Connect Customer Profiles pattern on kms-envelope: a customer managed KMS key per domain (or object type) used through a KMS grant, key switching on existing data. */
export const PACKAGE = '@kms-envelope/customer-profiles'
