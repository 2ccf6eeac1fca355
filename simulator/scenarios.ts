// The simulated upstream's scenarios, chosen per request by the serialNumber. Real
// chatbot ids (hex or alphanumeric) never start with `sim-`, so they always succeed;
// `sim-…` ids switch the answer into one failure each. Trailing words after a
// scenario are ignored, so tests can make ids unique: `sim-flaky-1-reset-t42`.

export type Scenario =
  | { kind: 'success' }
  | { kind: 'code', code: number, retryAfter?: number }
  | { kind: 'http', status: number, code?: number, retryAfter?: number }
  | { kind: 'body', body: string, contentType: string }
  | { kind: 'huge' }
  | { kind: 'big-id' }
  | { kind: 'slow', ms: number }
  | { kind: 'hang' }
  | { kind: 'hang-body' }
  | { kind: 'reset' }
  | { kind: 'close' }
  | { kind: 'redirect' }
  | { kind: 'echo-key' }
  | { kind: 'flaky', times: number, then: Scenario }

const envelope = (fields: Record<string, unknown>): string =>
  JSON.stringify({ Data: null, Version: '1.0.0', Success: false, Code: 500, Message: '', ...fields })

/** Fixed bodies for 200 answers the proxy must refuse as UPSTREAM_BAD_RESPONSE. */
const BODIES: Record<string, string> = {
  'not-json': '<html><body>Service temporarily unavailable</body></html>',
  'not-object': '[1,2,3]',
  'no-envelope': '{"hello":"world"}',
  inconsistent: envelope({ Success: true, Code: 500 }),
  'success-code-mismatch': envelope({ Success: false, Code: 200 }),
  'bad-id-zero': envelope({ Success: true, Code: 200, Data: { SessionID: 0 } }),
  'bad-id-negative': envelope({ Success: true, Code: 200, Data: { SessionID: -5 } }),
  'bad-id-float': envelope({ Success: true, Code: 200, Data: { SessionID: 12.5 } }),
  'bad-id-string': envelope({ Success: true, Code: 200, Data: { SessionID: '123' } }),
  'bad-id-missing': envelope({ Success: true, Code: 200, Data: {} }),
  'bad-id-null-data': envelope({ Success: true, Code: 200, Data: null })
}

const int = (token: string | undefined): number | undefined =>
  token !== undefined && /^\d{1,6}$/.test(token) ? Number(token) : undefined

/** Reads `ra-<seconds>` at tokens[i] when present. */
function retryAfterAt (tokens: string[], i: number): number | undefined {
  return tokens[i] === 'ra' ? int(tokens[i + 1]) : undefined
}

function fixedBody (rest: string): Scenario | undefined {
  for (const [name, body] of Object.entries(BODIES)) {
    if (rest === name || rest.startsWith(name + '-')) {
      return { kind: 'body', body, contentType: body.startsWith('<') ? 'text/html' : 'application/json' }
    }
  }
  return undefined
}

function parseRest (rest: string): Scenario {
  const fixed = fixedBody(rest)
  if (fixed !== undefined) return fixed
  const tokens = rest.split('-')
  const [word, a, b, c] = tokens
  const n = int(a)
  switch (word) {
    case 'code':
      if (n !== undefined) return { kind: 'code', code: n, retryAfter: retryAfterAt(tokens, 2) }
      break
    case 'http':
      if (n !== undefined && b === 'code' && int(c) !== undefined) return { kind: 'http', status: n, code: int(c) }
      if (n !== undefined) return { kind: 'http', status: n, retryAfter: retryAfterAt(tokens, 2) }
      break
    case 'slow':
      if (n !== undefined) return { kind: 'slow', ms: n }
      break
    case 'flaky':
      if (n !== undefined) return { kind: 'flaky', times: n, then: parseRest(tokens.slice(2).join('-')) }
      break
    case 'hang':
      return a === 'body' ? { kind: 'hang-body' } : { kind: 'hang' }
    case 'huge': case 'reset': case 'close': case 'redirect':
      return { kind: word }
    case 'echo':
      if (a === 'key') return { kind: 'echo-key' }
      break
    case 'big':
      if (a === 'id') return { kind: 'big-id' }
      break
  }
  return { kind: 'success' }
}

export function scenarioOf (serialNumber: string): Scenario {
  return serialNumber.startsWith('sim-') ? parseRest(serialNumber.slice(4)) : { kind: 'success' }
}

export { envelope }
