/**
 * Constants of envelope format v1. docs/FORMAT.md is the normative description; every number here
 * appears there.
 */

/** Format version byte (first byte of every message). */
export const FORMAT_VERSION = 0x01

/**
 * Algorithm suites of format v1. Suite 0x01 (per-message keys by HMAC-SHA-256) was a pre-release draft,
 * never published; readers reject it.
 */
export const Suite = {
  /**
   * AES-256-GCM; per-message keys by the XAES-256-GCM key derivation (NIST SP 800-108r1 counter mode,
   * AES-256-CMAC) under a key derived by HKDF-SHA-256; 256-bit key commitment via HKDF-SHA-256.
   */
  AES_256_GCM_CMAC_KDF_COMMIT: 0x02,
} as const
export type Suite = (typeof Suite)[keyof typeof Suite]

/** Content types: how the body after the header is laid out. */
export const ContentType = {
  /** The whole plaintext is one GCM message: `ciphertext || tag`. */
  Single: 0x01,
  /** Framed: a sequence of frames, the last one marked final. For streaming. */
  Framed: 0x02,
  /**
   * Compact single message: one KMS-wrapped data key whose KMS key is not named, and a context that is
   * authenticated but not stored (the reader supplies it, as with KMS Decrypt). For small records.
   */
  Compact: 0x03,
} as const
export type ContentType = (typeof ContentType)[keyof typeof ContentType]

/** Frame markers inside a framed body. */
export const FrameMarker = { Regular: 0x00, Final: 0x01 } as const

export const DATA_KEY_LENGTH = 32
export const NONCE_LENGTH = 12
export const TAG_LENGTH = 16
export const COMMITMENT_LENGTH = 32

/**
 * Default plaintext bytes per frame for streams: 1 MiB, as Tink's AES256_GCM_HKDF_1MB streaming AEAD. A reader
 * holds one frame before releasing it; fewer frames mean fewer per-frame GCM contexts for the garbage
 * collector (streaming 1 GiB peaked at 101–107 MiB RSS with 1 MiB frames, 121–135 MiB with 256 KiB, raw
 * AES-256-GCM 99–111 MiB). Pass a smaller `frameLength` when plaintext must flow sooner (live media).
 */
export const DEFAULT_FRAME_LENGTH = 1024 * 1024
/** Frames are at most 16 MiB of plaintext. */
export const MAX_FRAME_LENGTH = 16 * 1024 * 1024
/** Frame sequence numbers are u32; at most 2^32 - 1 frames per message. */
export const MAX_FRAMES = 0xffff_ffff
/** A single-shot (non-framed) message carries at most 2^31 - 1 bytes of plaintext (well under GCM's 2^36 - 32). */
export const MAX_SINGLE_PLAINTEXT = 0x7fff_ffff

/** Header limits (Precondition checks on both encode and decode). */
export const MAX_CONTEXT_PAIRS = 64
export const MAX_CONTEXT_BYTES = 8192
export const MAX_ENCRYPTED_DATA_KEYS = 16
export const MAX_KEY_ID_BYTES = 2048
export const MAX_BLOB_BYTES = 4096

/** HKDF labels (ASCII). */
export const LABEL_EXTRACT_SALT = 'kms-envelope/v1/AES-256-GCM/HKDF-SHA256/commit'
export const LABEL_COMMITMENT = 'kms-envelope/v1/key-commitment'
/** HKDF-Expand label of the key-derivation key `KX` (the AES-256-CMAC key of the per-message KDF). */
export const LABEL_MESSAGE_KDF_KEY = 'kms-envelope/v1/message-kdf-key'
/** Fixed bytes of the per-message KDF input blocks: `[i]_16 || "X" || 0x00` (i = 1, 2), as XAES-256-GCM. */
export const KDF_BLOCK_LABEL = 0x58

/** Encryption-context keys with these prefixes are reserved. */
export const RESERVED_CONTEXT_PREFIXES = ['aws:', 'aws-crypto-', 'kms-envelope:'] as const
