import { createHmac } from 'node:crypto'
import { test } from 'tap'
import { bindingOf, MAX_TOKEN_CHARS, SessionTokens } from '../../../src/tokens/session-tokens.ts'
import type { Caller } from '../../../src/tokens/session-tokens.ts'

const SECRET = 'unit-session-token-secret-0123456789abcdef'
const anyone: Caller = { clientName: null, origin: undefined }

function tokens (now = () => 1_000_000, secret = SECRET, previous?: string) {
  return new SessionTokens({ secret, previous, ttlMs: 60_000, now })
}

/** The token's payload, decoded, and a way to re-encode a changed one (with the old signature). */
function parts (token: string) {
  const [version, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
  const rebuilt = (changed: Record<string, unknown>): string => `${version}.${Buffer.from(JSON.stringify({ ...claims, ...changed })).toString('base64url')}.${signature}`
  return { version, payload, signature, claims, rebuilt }
}

/** A token whose payload is `text`, signed with SECRET: what only a holder of the secret could make. */
function signed (text: string): string {
  const encoded = Buffer.from(text).toString('base64url')
  return `v1.${encoded}.${createHmac('sha256', SECRET).update(`v1.${encoded}`).digest('base64url')}`
}

test('a token verifies for its session and caller, and names its chatbot', async (t) => {
  const signer = tokens()
  const token = signer.issue({ sessionId: '100001', serialNumber: 'bot-a', binding: { kind: 'none' } })
  t.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
  t.ok(token.length <= MAX_TOKEN_CHARS)
  t.same(signer.verify(token, '100001', anyone), { valid: true, serialNumber: 'bot-a' })
  t.same(signer.verify(token, '100002', anyone), { valid: false, code: 'INVALID_SESSION_TOKEN' }, 'another session')
})

test('the longest session id and chatbot still make a token within 512 characters', async (t) => {
  const token = tokens().issue({ sessionId: '9'.repeat(30), serialNumber: 'b'.repeat(128), binding: { kind: 'origin', origin: 'https://' + 'o'.repeat(2000) + '.example' } })
  t.ok(token.length <= MAX_TOKEN_CHARS, `${token.length} characters`)
  t.match(token, /^[A-Za-z0-9._~-]+$/)
})

test('attack: a tampered token (each field, and every bit of its signature) is INVALID_SESSION_TOKEN', async (t) => {
  const signer = tokens()
  const token = signer.issue({ sessionId: '5', serialNumber: 'bot-a', binding: { kind: 'client', name: 'web' } })
  const caller: Caller = { clientName: 'web', origin: undefined }
  const { claims, rebuilt, version, payload, signature } = parts(token)
  for (const [field, value] of [['s', '6'], ['b', 'bot-b'], ['k', 'n'], ['c', ''], ['e', (claims.e as number) + 60_000]] as const) {
    t.same(signer.verify(rebuilt({ [field]: value }), field === 's' ? '6' : '5', caller), { valid: false, code: 'INVALID_SESSION_TOKEN' }, `field ${field}`)
  }
  const bytes = Buffer.from(signature, 'base64url')
  for (let bit = 0; bit < bytes.length * 8; bit += 7) {
    const flipped = Buffer.from(bytes)
    flipped[bit >> 3]! ^= 1 << (bit & 7)
    t.equal(signer.verify(`${version}.${payload}.${flipped.toString('base64url')}`, '5', caller).valid, false, `signature bit ${bit}`)
  }
  // base64url's spare bits: the same signature written another way is not the signature.
  const last = signature.at(-1)!
  const sibling = signature.slice(0, -1) + String.fromCharCode(last.charCodeAt(0) ^ 1)
  t.equal(signer.verify(`${version}.${payload}.${sibling}`, '5', caller).valid, false, 'a non-canonical signature')
  for (const malformed of ['', 'v1', 'v2.' + payload + '.' + signature, `${version}.${payload}`, `${version}..${signature}`, token + '.x', 'a'.repeat(600)]) {
    t.same(signer.verify(malformed, '5', caller), { valid: false, code: 'INVALID_SESSION_TOKEN' }, malformed.slice(0, 12))
  }
})

test('attack: a token signed with another secret, or with the algorithm changed, is refused', async (t) => {
  const mine = tokens()
  const theirs = tokens(() => 1_000_000, 'another-secret-of-enough-length-0123456789')
  const forged = theirs.issue({ sessionId: '5', serialNumber: 'bot', binding: { kind: 'none' } })
  t.equal(mine.verify(forged, '5', anyone).valid, false)
  const { payload } = parts(mine.issue({ sessionId: '5', serialNumber: 'bot', binding: { kind: 'none' } }))
  t.equal(mine.verify(`v1.${payload}.${'A'.repeat(43)}`, '5', anyone).valid, false, 'an empty-looking signature')
})

test('the order: signature, then expiry, then session and caller', async (t) => {
  let now = 1_000_000
  const signer = tokens(() => now)
  const token = signer.issue({ sessionId: '5', serialNumber: 'bot', binding: { kind: 'origin', origin: 'https://a.example' } })
  const caller: Caller = { clientName: null, origin: 'https://a.example' }
  now += 59_999
  t.same(signer.verify(token, '5', caller), { valid: true, serialNumber: 'bot' }, '1 ms before expiry')
  now += 1
  t.same(signer.verify(token, '5', caller), { valid: false, code: 'SESSION_TOKEN_EXPIRED' })
  t.same(signer.verify(token, '6', { clientName: null, origin: 'https://b.example' }), { valid: false, code: 'SESSION_TOKEN_EXPIRED' }, 'expiry is told before the binding')
  const { rebuilt } = parts(token)
  t.same(signer.verify(rebuilt({ e: 0 }), '5', caller), { valid: false, code: 'INVALID_SESSION_TOKEN' }, 'an expiry changed by hand is a bad signature first')
})

test('bindings: a client name needs that client; an Origin exactly that Origin; none anyone', async (t) => {
  const signer = tokens()
  const issue = (binding: Parameters<typeof bindingOf>[0]) => signer.issue({ sessionId: '1', serialNumber: 'bot', binding: bindingOf(binding) })
  const client = issue({ clientName: 'web', origin: 'https://a.example' })
  t.equal(signer.verify(client, '1', { clientName: 'web', origin: undefined }).valid, true, 'a client binding ignores the Origin')
  t.equal(signer.verify(client, '1', { clientName: 'crm', origin: 'https://a.example' }).valid, false)
  t.equal(signer.verify(client, '1', { clientName: null, origin: 'https://a.example' }).valid, false)
  const origin = issue({ clientName: null, origin: 'https://a.example' })
  t.equal(signer.verify(origin, '1', { clientName: null, origin: 'https://a.example' }).valid, true)
  t.equal(signer.verify(origin, '1', { clientName: 'web', origin: 'https://a.example' }).valid, true, 'the same Origin, whatever the client')
  for (const other of ['https://a.example.evil', 'https://A.example', 'http://a.example', undefined]) {
    t.equal(signer.verify(origin, '1', { clientName: null, origin: other }).valid, false, String(other))
  }
  const none = issue({ clientName: null, origin: undefined })
  t.equal(signer.verify(none, '1', { clientName: 'crm', origin: 'https://z.example' }).valid, true)
  t.same(bindingOf({ clientName: 'web', origin: 'https://a.example' }), { kind: 'client', name: 'web' })
  t.same(bindingOf({ clientName: null, origin: 'https://a.example' }), { kind: 'origin', origin: 'https://a.example' })
  t.same(bindingOf(anyone), { kind: 'none' })
})

test('the token carries neither the client name nor the Origin', async (t) => {
  const token = tokens().issue({ sessionId: '1', serialNumber: 'bot', binding: { kind: 'origin', origin: 'https://secret-shop.example' } })
  t.notMatch(Buffer.from(token.split('.')[1]!, 'base64url').toString(), 'secret-shop')
})

test('rotation: tokens of the previous secret verify; new ones are signed with the current', async (t) => {
  const old = tokens(() => 1_000_000, 'old-secret-of-enough-length-0123456789abc')
  const token = old.issue({ sessionId: '1', serialNumber: 'bot', binding: { kind: 'none' } })
  const rotated = tokens(() => 1_000_000, SECRET, 'old-secret-of-enough-length-0123456789abc')
  t.equal(rotated.verify(token, '1', anyone).valid, true)
  const fresh = rotated.issue({ sessionId: '1', serialNumber: 'bot', binding: { kind: 'none' } })
  t.equal(tokens().verify(fresh, '1', anyone).valid, true, 'signed with the current secret')
  rotated.setSecrets(SECRET, undefined)
  t.equal(rotated.verify(token, '1', anyone).valid, false, 'the previous secret retired')
  rotated.setSecrets('third-secret-of-enough-length-0123456789ab', SECRET)
  t.equal(rotated.verify(fresh, '1', anyone).valid, true)
})

test('a token bound to no one carries an empty digest', async (t) => {
  const { claims } = parts(tokens().issue({ sessionId: '1', serialNumber: 'bot', binding: { kind: 'none' } }))
  t.same(claims, { s: '1', b: 'bot', k: 'n', c: '', e: 1_060_000 })
})

test('attack: a valid token with anything before or after it is INVALID_SESSION_TOKEN', async (t) => {
  const signer = tokens()
  const token = signer.issue({ sessionId: '1', serialNumber: 'bot', binding: { kind: 'none' } })
  t.equal(signer.verify(token, '1', anyone).valid, true)
  for (const padded of ['x' + token, ' ' + token, token + 'A', token + '\n']) {
    t.same(signer.verify(padded, '1', anyone), { valid: false, code: 'INVALID_SESSION_TOKEN' }, JSON.stringify(padded.slice(0, 2) + '…' + padded.slice(-2)))
  }
})

test('a payload the secret signed but that is no token\'s is INVALID_SESSION_TOKEN, never an exception', async (t) => {
  const signer = tokens()
  const e = 2_000_000
  t.equal(signer.verify(signed(JSON.stringify({ s: '1', b: 'bot', k: 'n', c: '', e })), '1', anyone).valid, true, 'the same construction makes a valid token')
  const notTokens = ['not json', 'null', '5', '"text"', '[]', JSON.stringify({ s: 1, b: 'bot', k: 'n', c: '', e }), JSON.stringify({ s: '1', b: 'bot', k: 'x', c: '', e }), JSON.stringify({ s: '1', b: 'bot', k: 'n', c: '', e: '2000000' })]
  for (const text of notTokens) t.same(signer.verify(signed(text), '1', anyone), { valid: false, code: 'INVALID_SESSION_TOKEN' }, text)
  // A digest of another length than the binding's (16 bytes, 22 characters) is no match, not a crash.
  for (const c of ['', 'short', 'A'.repeat(23)]) {
    t.same(signer.verify(signed(JSON.stringify({ s: '1', b: 'bot', k: 'c', c, e })), '1', { clientName: 'web', origin: undefined }), { valid: false, code: 'INVALID_SESSION_TOKEN' }, `digest ${JSON.stringify(c)}`)
  }
})
