// The benchmark's settings, from the environment: ROUNDS (default 3), DURATION seconds
// per measured run (5), WARMUP seconds per process (2). BENCH_QUICK=1 lowers the
// defaults to 1 round of 3 s with 1 s of warm-up; explicit values still win.

export interface BenchOptions {
  rounds: number
  durationS: number
  warmupS: number
  quick: boolean
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

export function benchOptions (env: Record<string, string | undefined>): BenchOptions {
  const quick = env.BENCH_QUICK !== undefined && env.BENCH_QUICK !== '' && env.BENCH_QUICK !== '0'
  return {
    rounds: positive(env, 'ROUNDS', quick ? 1 : 3, true),
    durationS: positive(env, 'DURATION', quick ? 3 : 5, false),
    warmupS: positive(env, 'WARMUP', quick ? 1 : 2, false),
    quick
  }
}
