// Replaces secrets in a byte stream as it passes, also when one is split across chunks.
// Only the bytes that could still be the start of a secret are held back (the longest
// tail of what arrived that is a proper prefix of some secret), so an ordinary chunk
// goes out whole and at once; a held tail goes out with the next chunk or at the end.

export const REDACTED = Buffer.from('[REDACTED]')

export class StreamScrubber {
  readonly #secrets: Buffer[]
  #held: Buffer = Buffer.alloc(0)

  /** Empty secrets are ignored; the longest is replaced first, so one that contains another goes whole. */
  constructor (secrets: ReadonlyArray<string>) {
    this.#secrets = [...new Set(secrets)].filter((secret) => secret.length > 0).map((secret) => Buffer.from(secret))
      .sort((a, b) => b.length - a.length)
  }

  /** The bytes of `chunk` (after what was held) that can go out now, secrets replaced. */
  push (chunk: Buffer): Buffer {
    if (this.#secrets.length === 0) return chunk
    const bytes = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk])
    const scrubbed = this.#replace(bytes)
    const hold = this.#partialTail(scrubbed)
    this.#held = Buffer.from(scrubbed.subarray(scrubbed.length - hold))
    return hold === 0 ? scrubbed : scrubbed.subarray(0, scrubbed.length - hold)
  }

  /** What is still held, at the end of the stream. */
  flush (): Buffer {
    const rest = this.#held
    this.#held = Buffer.alloc(0)
    return rest
  }

  /** Every whole occurrence of a secret replaced. */
  #replace (bytes: Buffer): Buffer {
    let result = bytes
    for (const secret of this.#secrets) {
      let at = result.indexOf(secret)
      if (at < 0) continue
      const parts: Buffer[] = []
      let from = 0
      while (at >= 0) {
        parts.push(result.subarray(from, at), REDACTED)
        from = at + secret.length
        at = result.indexOf(secret, from)
      }
      parts.push(result.subarray(from))
      result = Buffer.concat(parts)
    }
    return result
  }

  /** How many trailing bytes are a proper prefix of a secret. */
  #partialTail (bytes: Buffer): number {
    let longest = 0
    for (const secret of this.#secrets) {
      for (let size = Math.min(secret.length - 1, bytes.length); size > longest; size--) {
        if (bytes.subarray(bytes.length - size).equals(secret.subarray(0, size))) {
          longest = size
          break
        }
      }
    }
    return longest
  }
}
