import { test } from 'tap'
import { max, median, percentile, sum } from '../../bench/stats.ts'

test('percentiles of sorted latencies, medians, maxima and sums', async (t) => {
  const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  t.equal(percentile(sorted, 50), 5)
  t.equal(percentile(sorted, 99), 10)
  t.equal(percentile(sorted, 0), 1)
  t.ok(Number.isNaN(percentile(new Float64Array(0), 50)), 'no latency: no percentile')
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
  t.equal(max([3, 9, 1]), 9)
  t.equal(sum([1, 2, 3.5]), 6.5)
})
