// A call's answer as the store keeps it, and how a kept or shared answer is given to
// another request: the same body, or a fresh error of the same code, detail and
// headers, marked replayed. The request id is never kept: the error handler renders a
// replay with the new request's own.
import { ProblemError } from '../http/errors.ts'
import type { StoredAnswer } from './types.ts'

export const REPLAYED_HEADER = 'idempotent-replayed'
/** A successful answer (its status is the route's: only a status of 500 or more matters here). */
export const succeeded = (body: string): StoredAnswer => ({ status: 200, body })

export function refused (error: ProblemError): StoredAnswer {
  const { code, detail, headers } = error
  return headers === undefined
    ? { status: error.status, problem: { code, detail } }
    : { status: error.status, problem: { code, detail, headers: { ...headers } } }
}

/** The body again, or the answer's error (thrown), marked with REPLAYED_HEADER. */
export function replay (answer: StoredAnswer): string {
  if (answer.problem !== undefined) {
    const { code, detail, headers } = answer.problem
    throw new ProblemError(code, detail, { ...headers, [REPLAYED_HEADER]: 'true' })
  }
  return answer.body as string
}
