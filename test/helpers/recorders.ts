// What a service's unit test hands it instead of the parts it cannot watch: a wait that is
// only recorded, and a debug logger whose lines are kept.
import pino from 'pino'

/** Records each retry's wait instead of sleeping it. */
export function recordedSleeps () {
  const waits: number[] = []
  return { waits, sleep: async (ms: number) => { waits.push(ms) } }
}

/** A logger at debug that keeps its lines, parsed. */
export function capturedLog () {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { logger, lines }
}
