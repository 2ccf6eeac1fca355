// The benchmark's settings, from the environment: ROUNDS (default 3), DURATION seconds
// per measured run (5), WARMUP seconds per process (2). BENCH_QUICK=1 lowers the
// defaults to 1 round of 3 s with 1 s of warm-up; explicit values still win. Every round
// starts the servers afresh and warms them up again; BENCH_FRESH=0 keeps one process per
// server for the whole benchmark (faster, but one process's luck then weighs on every round).

export interface BenchOptions {
  rounds: number
  durationS: number
  warmupS: number
  quick: boolean
  /** New server processes, warmed up again, before every round after the first. */
  fresh: boolean
}

export class OptionsError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'OptionsError'
  }
}

/** A positive number (integer if asked) from `env[name]`, or `fallback` when unset. */
export function positive (env: Record<string, string | undefined>, name: string, fallback: number, integer: boolean): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new OptionsError(`${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`)
  }
  return value
}

const flag = (text: string | undefined, fallback: boolean): boolean =>
  text === undefined || text === '' ? fallback : text !== '0'

export function benchOptions (env: Record<string, string | undefined>): BenchOptions {
  const quick = flag(env.BENCH_QUICK, false)
  return {
    rounds: positive(env, 'ROUNDS', quick ? 1 : 3, true),
    durationS: positive(env, 'DURATION', quick ? 3 : 5, false),
    warmupS: positive(env, 'WARMUP', quick ? 1 : 2, false),
    quick,
    fresh: flag(env.BENCH_FRESH, true)
  }
}
