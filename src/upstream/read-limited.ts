// Reads a response body up to a byte limit. Past the limit, reading stops and the body
// is destroyed (undici then closes that connection), so a huge body costs no memory.
import type { Readable } from 'node:stream'

export async function readLimited (body: Readable, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) return undefined // leaving the loop destroys the stream
    chunks.push(chunk as Buffer)
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')
}
