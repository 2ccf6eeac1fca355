// Reads a response body up to a byte limit. Past the limit, reading stops and the body
// is destroyed (undici then closes that connection), so a huge body costs no memory.
import type { Readable } from 'node:stream'

export async function readLimited (body: Readable & { text: () => Promise<string> }, limit: number, length?: string | string[]): Promise<string | undefined> {
  // The usual answer announces a small length: read it in one go.
  if (typeof length === 'string' && /^\d{1,7}$/.test(length) && Number(length) <= limit) return await body.text()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > limit) return undefined // leaving the loop destroys the stream
    chunks.push(chunk as Buffer)
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')
}
