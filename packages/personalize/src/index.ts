/**
 * @kms-envelope/personalize — Amazon Personalize's dataset-group encryption on kms-envelope: an optional
 * customer managed key per dataset group (else a service-owned key), checked usable by the given IAM role
 * at creation, encrypting everything imported into the group.
 *
 * @packageDocumentation
 */
export {
  DatasetGroup,
  type DatasetGroupDescription,
  type DatasetSource,
  type ImportMode,
  type ImportOptions,
  type ImportResult,
} from './dataset-group.js'
export { type DatasetStore, MemoryDatasetStore } from './dataset-store.js'
export {
  DatasetGroupError,
  DatasetGroupKeyImmutableError,
  DatasetGroupRecordError,
  ROLE_KEY_PERMISSIONS,
  RoleKeyAccessDeniedError,
} from './errors.js'
export {
  type DatasetGroupRegistry,
  FileDatasetGroupRegistry,
  MemoryDatasetGroupRegistry,
} from './group-registry.js'
export { type ImportProgress, ProgressCounter } from './import-progress.js'
export { type CreateDatasetGroupInput, Personalize, type PersonalizeOptions } from './personalize.js'
export {
  assertDatasetGroupName,
  assertDatasetType,
  DATASET_TYPES,
  type DatasetType,
  datasetGroupArn,
  parseRoleArn,
  type RoleArn,
} from './resource-names.js'
export { asRoleError, checkRoleKeyAccess, type RoleKeyCheck } from './role-key-check.js'
