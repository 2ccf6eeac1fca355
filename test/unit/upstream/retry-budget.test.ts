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
