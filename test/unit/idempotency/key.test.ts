// The Idempotency-Key syntax, and that two clients' keys can never name one store entry.
import { test } from 'tap'
import { MIN_ANONYMOUS_KEY_CHARS, scopeOf, storeId, validIdempotencyKey } from '../../../src/idempotency/key.ts'

test('a key is 1–128 visible ASCII characters', async (t) => {
  for (const good of ['a', 'x'.repeat(128), '!~', 'order-42:retry/1', '"quoted"']) t.ok(validIdempotencyKey(good), JSON.stringify(good))
  const bad: unknown[] = ['', 'x'.repeat(129), 'has space', 'tab\t', 'é', 'new\nline', 'a, b', '\x7f', undefined, 42, ['a']]
  for (const value of bad) t.notOk(validIdempotencyKey(value), JSON.stringify(value))
})

test('store ids of different scopes never collide, whatever the characters', async (t) => {
  t.not(storeId('a:b', 'c'), storeId('a', 'b:c'))
  t.not(storeId('ip:::1', 'k'), storeId('ip:', ':1:k'))
  t.equal(storeId('client:web', 'k:1'), 'client%3Aweb:k:1', 'the scope encoded, the key verbatim after the one separator')
})

const BILLING = { clientName: 'billing', visitorId: null }
const ANON = { clientName: null, visitorId: null }

test('a visitor\'s scope is its identity, from any address', async (t) => {
  t.equal(scopeOf({ clientName: null, visitorId: 'v-1' }, '10.0.0.1', 'https://a.example', 'UA'), 'visitor:v-1')
  t.equal(scopeOf({ clientName: null, visitorId: 'v-1' }, '10.0.0.2', undefined, 'UA2'), 'visitor:v-1')
  t.not(scopeOf({ clientName: null, visitorId: 'v-2' }, '10.0.0.1', 'https://a.example', 'UA'), 'visitor:v-1', 'two visitors behind one address do not share answers')
})

test('a token client\'s scope is its name; an anonymous caller\'s is its address, Origin and User-Agent together', async (t) => {
  t.equal(scopeOf(BILLING, '10.0.0.1', 'https://a.example', 'UA'), 'client:billing')
  t.equal(scopeOf(BILLING, '10.0.0.2', undefined, undefined), 'client:billing', 'a name is the same client from anywhere')
  const anon = scopeOf(ANON, '10.0.0.1', 'https://a.example', 'UA')
  t.match(anon, /^anon:[A-Za-z0-9_-]{43}$/, 'hashed: short, whatever the headers hold')
  t.equal(scopeOf(ANON, '10.0.0.1', 'https://a.example', 'UA'), anon, 'the same caller, the same scope')
  for (const other of [scopeOf(ANON, '10.0.0.2', 'https://a.example', 'UA'), scopeOf(ANON, '10.0.0.1', 'https://b.example', 'UA'),
    scopeOf(ANON, '10.0.0.1', 'https://a.example', 'UA2'), scopeOf(ANON, '10.0.0.1', undefined, 'UA')]) {
    t.not(other, anon)
  }
  t.not(scopeOf(ANON, '10.0.0.1', 'x\nUA', ''), scopeOf(ANON, '10.0.0.1', 'x', 'UA'), 'fields cannot be shifted into each other')
  t.equal(MIN_ANONYMOUS_KEY_CHARS, 16)
})
