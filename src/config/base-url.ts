// The upstream's origin, validated by parsing rather than by pattern: what the URL parser
// makes of the text must be exactly what was written (so `https://evil.example\.usapi…`,
// which a parser reads as another host, is refused), and the key, sent in every request,
// travels over https unless the deployment says plainly that a local simulator is fine.
import type { Parsed } from './lists.ts'

export const BASE_URL_EXPECTED = 'an https origin such as https://usapi.hottask.com (no path, query or credentials)'

export function parseBaseUrl (text: string, allowInsecure: boolean): Parsed<string> {
  let url: URL | undefined
  try { url = new URL(text) } catch {}
  if (url === undefined || url.origin !== text.replace(/\/$/, '')) return { problem: `HOTTASK_BASE_URL: expected ${BASE_URL_EXPECTED}` }
  if (url.protocol !== 'https:' && !allowInsecure) {
    return { problem: 'HOTTASK_BASE_URL: must be https, since the key travels in every request (set HOTTASK_ALLOW_INSECURE_UPSTREAM=true for a local simulator)' }
  }
  return { value: url.origin }
}
