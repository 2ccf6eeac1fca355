// Headers for an API that browsers call but never render: no sniffing, no framing (CSP
// frame-ancestors), no referrer, nothing loadable, not readable by no-cors requests from
// other sites, HTTPS only. Headers that only matter for documents a browser displays
// (X-Frame-Options, COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control,
// X-Permitted-Cross-Domain-Policies) are left out: every header is written on every
// response, and these would protect nothing here. One constant object, set in the hook
// that already stamps the request id, so it costs no hook of its own.
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff'
} as const
