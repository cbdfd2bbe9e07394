import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { LocalKmsError } from './errors.js'

/**
 * Load `<dataDir>/master.key` (32 random bytes, mode 0600), creating it if absent. Refuses a file that
 * group or others can read. Internal.
 */
export function loadMasterKey(dataDir: string): Buffer {
  const path = join(dataDir, 'master.key')
  try {
    const fd = openSync(path, 'wx', 0o600)
    const key = randomBytes(32)
    writeSync(fd, key)
    fsyncSync(fd)
    closeSync(fd)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const mode = statSync(path).mode & 0o777
  // Precondition: the master key is readable by its owner only.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new LocalKmsError(
      'ERR_LOCAL_KMS_STATE',
      `${path} has mode ${mode.toString(8)}; it protects all key material and must be readable by its owner only. Run: chmod 600 ${path}`,
    )
  }
  const key = readFileSync(path)
  // Precondition: a 256-bit key.
  if (key.length !== 32)
    throw new LocalKmsError(
      'ERR_LOCAL_KMS_STATE',
      `${path} is not a 32-byte master key; restore it from backup.`,
    )
  return key
}

/** Seal key material under the master key (AES-256-GCM, AAD binds it to its key ARN and version). */
export function sealMaterial(masterKey: Buffer, material: Buffer, aad: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv)
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const ct = Buffer.concat([cipher.update(material), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')
}

/** Open sealed key material. Throws LocalKmsError when the master key or the data does not match. */
export function openMaterial(masterKey: Buffer, sealed: string, aad: string): Buffer {
  const buf = Buffer.from(sealed, 'base64')
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, buf.subarray(0, 12))
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(buf.subarray(12, 28))
    return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()])
  } catch (err) {
    throw new LocalKmsError(
      'ERR_LOCAL_KMS_STATE',
      `Key material of ${aad} does not open under master.key: the state file and master.key do not belong together (or one was modified).`,
      { cause: err },
    )
  }
}
