// The JSON schemas of the problem+json bodies, generated from the error registry so the
// OpenAPI document can never list a code the proxy does not have, or miss one it has.
// Routes declare which codes they can answer with; the statuses follow from the registry.
import { ERRORS, problemType } from './errors.ts'
import type { ErrorCode } from './errors.ts'

export const PROBLEM_MEDIA_TYPE = 'application/problem+json'

const CODES = Object.keys(ERRORS) as ErrorCode[]

/** Shared through `app.addSchema`: the OpenAPI document's `#/components/schemas/Problem`. */
export const PROBLEM_SCHEMA = {
  $id: 'Problem',
  type: 'object',
  description: 'An RFC 9457 problem. Branch on `code`; show `detail` to people.',
  additionalProperties: false,
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
  properties: {
    type: { type: 'string', enum: CODES.map(problemType), description: '`urn:hottask-proxy:problem:` and the code in lower case with dashes.' },
    title: { type: 'string', description: 'A short summary of the problem type; the same for every occurrence of a code.' },
    status: { type: 'integer', minimum: 400, maximum: 599, description: 'The HTTP status of the response.' },
    detail: { type: 'string', description: 'What happened this time, for people.' },
    code: { type: 'string', enum: CODES, description: 'The stable machine-readable error code.' },
    requestId: { type: 'string', description: 'The `X-Request-Id` of the response, also in every log line of the request.' }
  }
} as const

/** The OpenAPI 3.1 header object, as @fastify/swagger copies it from a response schema. */
export interface HeaderDoc {
  description: string
  type: 'string' | 'integer'
  minimum?: number
  required?: boolean
  enum?: string[]
}

export const RETRY_AFTER: HeaderDoc = { type: 'integer', minimum: 1, required: true, description: 'Seconds to wait before retrying.' }

/** Sent once a request reaches the rate limit, that is after the client-token and origin checks. */
export const RATE_LIMIT_HEADERS: Record<string, HeaderDoc> = {
  'X-RateLimit-Limit': { type: 'integer', minimum: 0, description: 'Requests allowed per window for this client.' },
  'X-RateLimit-Remaining': { type: 'integer', minimum: 0, description: 'Requests left in the current window.' },
  'X-RateLimit-Reset': { type: 'integer', minimum: 0, description: 'Seconds until the window resets.' }
}

/** With daily quotas (QUOTA_*_PER_DAY): the quota this request counted against. */
export const QUOTA_HEADERS: Record<string, HeaderDoc> = {
  'X-Quota-Limit': { type: 'integer', minimum: 1, description: 'With a daily quota: what this visitor may spend per UTC day (sessions; for messages, messages, else tokens).' },
  'X-Quota-Remaining': { type: 'integer', minimum: 0, description: 'What is left of it today.' },
  'X-Quota-Reset': { type: 'integer', minimum: 1, description: 'Seconds until it resets (the next UTC midnight).' }
}

/**
 * Fastify response schemas, one per status, for the codes a route can answer with.
 * Each narrows `Problem` to its status's codes; the bodies are pre-serialized strings,
 * so these schemas document and never serialize.
 */
export function problemResponses (codes: ErrorCode[], headersFor: (status: number) => Record<string, HeaderDoc>) {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of codes) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code])
  return Object.fromEntries([...byStatus].map(([status, statusCodes]) => [status, {
    description: statusCodes.map((code) => `\`${code}\`: ${ERRORS[code].title}.`).join(' '),
    headers: headersFor(status),
    content: {
      [PROBLEM_MEDIA_TYPE]: {
        schema: {
          type: 'object',
          allOf: [{ $ref: 'Problem#' }],
          properties: {
            type: { enum: statusCodes.map(problemType) },
            status: { const: status },
            code: { enum: statusCodes }
          }
        }
      }
    }
  }]))
}
