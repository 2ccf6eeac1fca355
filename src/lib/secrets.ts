// Scrubs secrets by value from any text that leaves the process (log lines, upstream
// messages shown to callers), and names a key by a short fingerprint when logs must
// tell keys apart. The set of secrets can change at run time (key rotation).
import { createHash } from 'node:crypto'

export const REDACTED = '[REDACTED]'

export function fingerprint (secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 8)
}

export class SecretScrubber {
  #secrets: string[] = []

  /** Adds a secret, with its JSON-escaped form, since log lines are JSON. */
  add (secret: string): void {
    for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
      if (form.length > 0 && !this.#secrets.includes(form)) this.#secrets.push(form)
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.#secrets.sort((a, b) => b.length - a.length)
  }

  /** Every secret, in every form it is scrubbed in, longest first. */
  get secrets (): readonly string[] { return this.#secrets }

  scrub (text: string): string {
    let out = text
    for (const secret of this.#secrets) {
      if (out.includes(secret)) out = out.replaceAll(secret, REDACTED)
    }
    return out
  }
}
