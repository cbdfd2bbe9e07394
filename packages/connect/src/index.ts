/** @kms-envelope/connect: Amazon Connect data-protection patterns on kms-envelope: contact PII under a time-limited per-instance key, recordings under a per-account data key, voiceprints under a service-owned key, integration config under a time-limited per-user key. */
export const PACKAGE = '@kms-envelope/connect'
