/**
 * Make untrusted text safe for a terminal: header fields (context, key ids) come from the file being
 * inspected, and a crafted file must not be able to send escape sequences to the user's terminal.
 *
 * @example
 * ```ts
 * import { printable } from '@kms-envelope/cli'
 * printable('acme\u001b[2J') // 'acme\\u001b[2J'
 * ```
 */
export function printable(text: string): string {
  // C0/C1 controls, DEL, and bidi overrides/isolates (which can make text read differently than it is).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n' || c === '\t') return c === '\n' ? '\\n' : '\\t'
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}
