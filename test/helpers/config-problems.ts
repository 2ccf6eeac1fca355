// What a configuration is refused with at start: the problems of the ConfigError it raises.
import { ConfigError } from '../../src/config/config.ts'

type Env = Record<string, string>

/** `problemsOf(env)` for a loader: its problems, or a failure when it loads (or throws something else). */
export function refusalsOf (load: (env: Env) => unknown): (env: Env) => string[] {
  return (env) => {
    try {
      load(env)
    } catch (error) {
      if (error instanceof ConfigError) return error.problems
      throw error
    }
    throw new Error('expected a ConfigError')
  }
}
