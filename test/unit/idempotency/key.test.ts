// The Idempotency-Key syntax, and that two clients' keys can never name one store entry.
import { test } from 'tap'
import { storeId, validIdempotencyKey } from '../../../src/idempotency/key.ts'

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
