import { test } from 'tap'
import { RetryBudget } from '../../../src/upstream/retry-budget.ts'

test('retry budget: a percentage of requests over the window, with a floor', async (t) => {
  let now = 0
  const budget = new RetryBudget({ percent: 20, minPerWindow: 3, now: () => now })
  for (let i = 0; i < 3; i++) t.ok(budget.tryRetry(), `floor retry ${i + 1}`)
  t.notOk(budget.tryRetry(), 'floor spent')
  for (let i = 0; i < 50; i++) budget.recordRequest()
  for (let i = 0; i < 7; i++) t.ok(budget.tryRetry(), `20% of 50 = 10 in all (${i + 4})`)
  t.notOk(budget.tryRetry())
  now += 10_001
  t.ok(budget.tryRetry(), 'a new window')
  now += 5_000
  t.ok(budget.tryRetry())
})

test('retry budget: requests older than the window no longer count', async (t) => {
  let now = 0
  const budget = new RetryBudget({ percent: 20, minPerWindow: 0, now: () => now })
  for (let i = 0; i < 50; i++) budget.recordRequest()
  now = 9_999
  t.ok(budget.tryRetry(), 'within 10 s the 50 requests allow retries')
  now = 11_000
  t.notOk(budget.tryRetry(), '11 s later they are out of the window, and there is no floor')
})
