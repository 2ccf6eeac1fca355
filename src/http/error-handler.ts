// The only place that writes problem+json: every error, ours or Fastify's, becomes one
// contract code. 5xx internals are logged with the request's context, never sent. How
// loud a problem is comes from the problem itself (ProblemError.logEntry), so this
// module knows no feature's error classes.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { CLIENT_GONE } from '../lib/abort-reasons.ts'
import { ProblemError, toProblem } from './errors.ts'
import type { ErrorCode } from './errors.ts'

/** Fastify's own error codes that are part of our contract. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_JSON'
}

export function asProblemError (error: FastifyError): ProblemError {
  if (error instanceof ProblemError) return error
  const code = FASTIFY_CODES[error.code]
  if (code === 'VALIDATION_FAILED') return new ProblemError(code, error.message)
  if (code !== undefined) return new ProblemError(code)
  return new ProblemError('INTERNAL_ERROR')
}

function logError (request: FastifyRequest, problem: ProblemError, error: FastifyError): void {
  if (problem.code === 'INTERNAL_ERROR') {
    request.log.error({ err: error }, 'unexpected error')
    return
  }
  const entry = problem.logEntry()
  if (entry === undefined) {
    // A refusal: the completion line says which (telemetry/request-log.ts), no line of its own.
    request.outcome = { code: problem.code, detail: problem.detail }
  } else {
    request.log[entry.level](entry.fields, entry.message)
  }
}

export function sendProblem (reply: FastifyReply, problem: ProblemError): FastifyReply {
  if (problem.headers !== undefined) reply.headers(problem.headers)
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify(toProblem(problem, reply.request.id)))
}

/** Node's error for a request body cut off by its client (declared length, fewer bytes, socket closed). */
const BODY_ABORTED = 'ECONNRESET'

export function errorHandler (onProblem: (code: ErrorCode, request: FastifyRequest) => void) {
  return function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (error.code === CLIENT_GONE || error.code === BODY_ABORTED) {
      // Nobody is left to read an answer; 499 (nginx's "client closed request") tells the logs why.
      request.log.info('client went away; upstream call aborted')
      return reply.code(499).send()
    }
    const problem = asProblemError(error)
    onProblem(problem.code, request)
    logError(request, problem, error)
    return sendProblem(reply, problem)
  }
}
