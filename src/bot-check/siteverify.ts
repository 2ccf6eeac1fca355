// Reading Turnstile siteverify's answer. The body is always consumed (or the connection
// leaks) and never read past a few KiB: a real answer is a few hundred bytes, and a
// verifier we cannot trust must not make us buffer whatever it sends. Only the fields
// the checker judges by are kept.
import { Buffer } from 'node:buffer'
import type { Dispatcher } from 'undici'

export const MAX_SITEVERIFY_BYTES = 8 * 1024

export interface Siteverify {
  kind: 'siteverify'
  success: boolean
  errorCodes: string[]
  /** '' when absent: no host of ours is empty. */
  hostname: string
  action: string | undefined
}

/** `cause` is a verdict's code; `retry` says whether a second attempt may fare better. */
export type SiteverifyRead = Siteverify | { kind: 'unusable', cause: string, retry: boolean }

/**
 * A 2xx or 4xx with a siteverify body is judged by the body (Cloudflare reports refusals
 * in it); a 3xx is never followed and a 5xx is Cloudflare's trouble: both dumped unread.
 */
export async function readSiteverify (response: Dispatcher.ResponseData): Promise<SiteverifyRead> {
  const { statusCode: status, body } = response
  if (status < 200 || (status >= 300 && status < 400) || status >= 500) {
    await body.dump({ limit: MAX_SITEVERIFY_BYTES })
    return { kind: 'unusable', cause: `status_${status}`, retry: status >= 500 }
  }
  const text = Number(response.headers['content-length']) > MAX_SITEVERIFY_BYTES ? undefined : await readCapped(body)
  if (text === undefined) body.destroy()
  const answer = text === undefined ? undefined : parse(text)
  if (answer !== undefined) return answer
  return { kind: 'unusable', cause: status < 300 ? 'bad_response' : `status_${status}`, retry: false }
}

async function readCapped (body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_SITEVERIFY_BYTES) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

type Loose = Record<string, unknown>

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value)

function parse (text: string): Siteverify | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(value) || typeof value.success !== 'boolean') return undefined
  const codes = value['error-codes']
  return {
    kind: 'siteverify',
    success: value.success,
    errorCodes: Array.isArray(codes) ? codes.filter((code): code is string => typeof code === 'string') : [],
    hostname: typeof value.hostname === 'string' ? value.hostname : '',
    action: typeof value.action === 'string' ? value.action : undefined
  }
}
