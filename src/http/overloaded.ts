// The one answer for "at capacity": the upstream concurrency queue and the process's
// own load shedding both refuse with it, so a client sees one code and one wait.
import { ProblemError } from './errors.ts'

export const OVERLOADED_RETRY_AFTER_SECONDS = 1

export const overloaded = (): ProblemError =>
  new ProblemError('OVERLOADED', undefined, { 'retry-after': String(OVERLOADED_RETRY_AFTER_SECONDS) })
