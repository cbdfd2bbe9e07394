/** @kms-envelope/vision: Amazon Lookout for Vision / Rekognition patterns on kms-envelope: encrypted copies of training images, models and manifests encrypted by default, symmetric keys only, face-vector collections. */
export const PACKAGE = '@kms-envelope/vision'
