/** @kms-envelope/personalize: Amazon Personalize pattern on kms-envelope: an optional customer managed key per dataset group (else a service-owned key), checked usable by the given role, encrypting everything imported into the group. */
export const PACKAGE = '@kms-envelope/personalize'
