// The bot-check hook alone: who skips it, how each verdict is answered, and what is reported.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { test } from 'tap'
import type { BotCheckVerdict } from '../../../src/bot-check/verdict.ts'
import { BOT_CHECK_RETRY_AFTER_SECONDS, botCheckGuard } from '../../../src/guards/bot-check.ts'
import type { ProblemError } from '../../../src/http/errors.ts'

async function run (verdict: BotCheckVerdict, options: { headers?: Record<string, string | string[]>, onError?: 'open' | 'closed', clientName?: string, visitorId?: string } = {}) {
  const asked: Array<{ token: string, remoteIp: string }> = []
  const reported: Array<{ verdict: BotCheckVerdict, letThrough: boolean }> = []
  const guard = botCheckGuard({
    checker: { verify: async (token, context) => { asked.push({ token, remoteIp: context.remoteIp }); return verdict } },
    onError: options.onError ?? 'closed',
    onVerdict: (v, _request, letThrough) => reported.push({ verdict: v, letThrough })
  })
  const request = { headers: options.headers ?? {}, ip: '203.0.113.9', clientName: options.clientName ?? null, visitorId: options.visitorId ?? null }
  try {
    await guard(request as unknown as FastifyRequest, {} as FastifyReply, undefined)
    return { code: undefined, headers: undefined, asked, reported }
  } catch (error) {
    return { code: (error as ProblemError).code, headers: (error as ProblemError).headers, asked, reported }
  }
}

const PASSED: BotCheckVerdict = { ok: true }

test('a passing token lets the request on; the checker gets the token and the client address', async (t) => {
  const result = await run(PASSED, { headers: { 'bot-check-token': 'solved' } })
  t.same(result, { code: undefined, headers: undefined, asked: [{ token: 'solved', remoteIp: '203.0.113.9' }], reported: [{ verdict: PASSED, letThrough: false }] })
})

test('client and visitor tokens skip the check entirely', async (t) => {
  t.same((await run({ ok: false, reason: 'missing' }, { clientName: 'billing' })).asked, [])
  t.same((await run({ ok: false, reason: 'missing' }, { visitorId: 'v' })).asked, [])
})

test('missing is BOT_CHECK_REQUIRED; every other refusal BOT_CHECK_FAILED', async (t) => {
  const missing = await run({ ok: false, reason: 'missing' })
  t.equal(missing.code, 'BOT_CHECK_REQUIRED')
  t.same(missing.asked, [{ token: '', remoteIp: '203.0.113.9' }], 'an absent header is checked as empty')
  for (const reason of ['invalid', 'expired', 'replayed', 'hostname', 'action'] as const) {
    t.equal((await run({ ok: false, reason }, { headers: { 'bot-check-token': 'x' } })).code, 'BOT_CHECK_FAILED', reason)
  }
})

test('a repeated header is no single solution', async (t) => {
  const result = await run({ ok: false, reason: 'invalid' }, { headers: { 'bot-check-token': ['a', 'b'] } })
  t.not(result.asked[0]?.token, 'a')
  t.not(result.asked[0]?.token, '')
  t.equal(result.code, 'BOT_CHECK_FAILED')
})

test('an unavailable verifier: 503 with Retry-After when closed, let through (and reported so) when open', async (t) => {
  const verdict: BotCheckVerdict = { ok: false, reason: 'unavailable', cause: 'timeout' }
  const closed = await run(verdict, { headers: { 'bot-check-token': 'x' } })
  t.equal(closed.code, 'BOT_CHECK_UNAVAILABLE')
  t.same(closed.headers, { 'retry-after': String(BOT_CHECK_RETRY_AFTER_SECONDS) })
  t.equal(BOT_CHECK_RETRY_AFTER_SECONDS, 5)
  t.same(closed.reported, [{ verdict, letThrough: false }])
  const open = await run(verdict, { headers: { 'bot-check-token': 'x' }, onError: 'open' })
  t.equal(open.code, undefined)
  t.same(open.reported, [{ verdict, letThrough: true }])
  t.equal((await run({ ok: false, reason: 'invalid' }, { headers: { 'bot-check-token': 'x' }, onError: 'open' })).code, 'BOT_CHECK_FAILED', 'open never lets a refusal through')
})

test('attack: failures a caller can cause are never let through, even when open', async (t) => {
  for (const cause of ['store', 'status_429']) {
    const verdict: BotCheckVerdict = { ok: false, reason: 'unavailable', cause }
    const result = await run(verdict, { headers: { 'bot-check-token': 'x' }, onError: 'open' })
    t.equal(result.code, 'BOT_CHECK_UNAVAILABLE', cause)
    t.same(result.reported, [{ verdict, letThrough: false }], cause)
  }
})
