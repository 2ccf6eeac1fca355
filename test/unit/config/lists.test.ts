// The list-valued variables' parsers: each value they accept, and each problem they name.
import { test } from 'tap'
import { parseClientTokenEntries, parseClientTokens, parseOrigins, parseTrustProxy, splitList } from '../../../src/config/lists.ts'

test('splitList trims items and drops empty ones', async (t) => {
  t.same(splitList(' a, b ,,c ,'), ['a', 'b', 'c'])
  t.same(splitList(''), [])
})

test('origins: exact origins, `null`, or `*` alone', async (t) => {
  t.same(parseOrigins('https://shop.example, http://127.0.0.1:8080,null'), { value: ['https://shop.example', 'http://127.0.0.1:8080', 'null'] })
  t.same(parseOrigins('*'), { value: ['*'] })
  t.same(parseOrigins(''), { value: [] })
  t.same(parseOrigins('*,https://a.example'), { problem: 'CORS_ORIGINS: `*` must stand alone' })
  for (const bad of ['https://shop.example/', 'https://shop.example/path', 'shop.example', 'https://a.example:443', 'HTTPS://A.EXAMPLE']) {
    t.match(parseOrigins(bad), { problem: /^CORS_ORIGINS: each entry must be an exact origin/ }, bad)
  }
})

test('client tokens: name:token pairs, names and tokens unique, tokens never echoed', async (t) => {
  t.same(parseClientTokens('web:abcdefghijklmnop, svc.b-1:0123456789ABCDEF:x'), {
    value: [{ name: 'web', token: 'abcdefghijklmnop' }, { name: 'svc.b-1', token: '0123456789ABCDEF:x' }]
  })
  t.same(parseClientTokens(''), { value: [] })
  const shape = /^CLIENT_TOKENS: entry 1 must be name:token/
  for (const bad of ['notoken', 'web:short', 'we b:abcdefghijklmnop', ':abcdefghijklmnop', 'web:abcdefgh ijklmnop', 'web:abcdefghijklmnop,']) {
    const parsed = parseClientTokens(bad)
    if (bad.endsWith(',')) t.same(parsed, { value: [{ name: 'web', token: 'abcdefghijklmnop' }] }, 'a trailing comma is no entry')
    else t.match(parsed, { problem: shape }, bad)
  }
  t.same(parseClientTokens('a:abcdefghijklmnop,a:ponmlkjihgfedcba'), { problem: 'CLIENT_TOKENS: the name a appears twice' })
  const repeated = parseClientTokens('a:abcdefghijklmnop,b:abcdefghijklmnop')
  t.same(repeated, { problem: 'CLIENT_TOKENS: entry 2 repeats another entry\'s token' })
  t.notMatch(repeated.problem, 'abcdefghijklmnop', 'the token is never in the problem')
})

test('client token entries: the rules are the same however they are given, each entry named by its label', async (t) => {
  const entries = [{ label: 'line 3', text: 'web:abcdefghijklmnop' }, { label: 'line 7', text: 'api:aaaaaaaa.bbbbbbbb.cccccccc' }]
  t.same(parseClientTokenEntries(entries, 'SOME_FILE'),
    { problem: 'SOME_FILE: line 7 has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token' })
  t.same(parseClientTokenEntries([{ label: 'line 2', text: 'web:x' }], 'SOME_FILE'),
    { problem: 'SOME_FILE: line 2 must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters' })
  t.same(parseClientTokenEntries([], 'SOME_FILE'), { value: [] })
  t.same(parseClientTokens('web:aaaaaaaa.bbbbbbbb.'), { problem: 'CLIENT_TOKENS: entry 1 has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token' },
    'an unsigned token\'s shape too')
})

test('trust proxy: false, true, a hop count, or addresses and CIDRs', async (t) => {
  t.same(parseTrustProxy('false'), { value: false })
  t.same(parseTrustProxy(''), { value: false })
  t.same(parseTrustProxy(' true '), { value: true })
  t.same(parseTrustProxy('2'), { value: 2 })
  t.same(parseTrustProxy('10.0.0.1, 10.0.0.0/8,::1,fd00::/64'), { value: ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/64'] })
  for (const bad of ['yes', '100', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', '10.0.0.1/x', 'host.example', ',']) {
    t.same(parseTrustProxy(bad), { problem: 'TRUST_PROXY: expected `true`, `false`, a hop count, or comma-separated addresses/CIDRs' }, bad)
  }
})
