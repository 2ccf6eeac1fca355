// Waiting without guessing: a clock the test moves by hand, a poll that ends as soon as a
// condition holds (with a generous cap, so a slow machine is only slower, never wrong),
// and a counter read from the Prometheus exposition.
import type { Metrics } from '../../src/telemetry/metrics.ts'

export interface ManualClock {
  now: () => number
  advance: (ms: number) => void
}

export function manualClock (start = Date.now()): ManualClock {
  let time = start
  return { now: () => time, advance: (ms) => { time += ms } }
}

/** Resolves once `condition()` is true, checking between turns of the event loop; rejects after `capMs`. */
export async function until (condition: () => boolean | Promise<boolean>, what: string, capMs = 10000): Promise<void> {
  const deadline = Date.now() + capMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The value of one series in the exposition, e.g. `hottask_proxy_upstream_queue_length`. */
export async function metricValue (metrics: Metrics, series: string): Promise<number | undefined> {
  const text = await metrics.render()
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
