// @fastify/swagger settings: the OpenAPI 3.1 document served at /openapi.json and committed
// as openapi.json, generated from the route schemas. What every route shares (X-Request-Id
// in and out) is added here, where the app applies it to all routes. `npm test` runs
// redocly's and spectral's recommended rules over the committed document.
import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema } from 'fastify'

export interface OpenApiOptions {
  version: string
  /** package.json's license, named in the document's `info`. */
  license: string
  /** With DEFAULT_SERIAL_NUMBER, POST /sessions may come without a body. */
  sessionBodyOptional: boolean
}

const DESCRIPTION = `Creates [hottask](https://usapi.hottask.com) chat sessions without handing callers the account's secret key.

Every error is an RFC 9457 problem (\`application/problem+json\`); branch on its \`code\`. Every response carries \`X-Request-Id\`. \
An unknown URL answers \`404\` with code \`NOT_FOUND\`, and a documented path called with another method answers \`405\` with code \`METHOD_NOT_ALLOWED\` \
and an \`Allow\` header; both are \`Problem\` bodies, carry \`X-Request-Id\`, and are rate limited. Browsers may call from the origins the deployment lists in \`CORS_ORIGINS\`.

This document describes the default configuration: with \`DEFAULT_SERIAL_NUMBER\` set, \`POST /sessions\` also accepts \`{}\` or no body. \
With \`BOT_CHECK=turnstile\` or \`altcha\`, \`POST /sessions\` from a caller without a client or visitor token needs a solved check in the \`Bot-Check-Token\` header \
(\`BOT_CHECK_REQUIRED\`, \`BOT_CHECK_FAILED\`, \`BOT_CHECK_UNAVAILABLE\`), and with \`altcha\` \`GET /bot-check/challenge\` serves the challenge to solve.`

const REQUEST_ID_IN = {
  type: 'object',
  properties: {
    'X-Request-Id': {
      type: 'string',
      description: 'Your id for this request, echoed in the response, the logs and the upstream call when it matches `^[A-Za-z0-9._-]{1,64}$`; otherwise a fresh UUID is used.'
    }
  }
} as const

const REQUEST_ID_OUT = { type: 'string', required: true, description: 'The request\'s id: yours when acceptable, else a fresh UUID.' } as const

/** Every documented operation takes and answers X-Request-Id (set in app.ts for all routes), besides the headers it reads itself. */
function withRequestId ({ schema, url }: { schema: FastifySchema | undefined, url: string }): { schema: FastifySchema, url: string } {
  const own = schema?.headers as { properties?: object } | undefined
  const documented: FastifySchema = { ...schema, headers: { ...own, ...REQUEST_ID_IN, properties: { ...REQUEST_ID_IN.properties, ...own?.properties } } }
  // A route without response schemas keeps @fastify/swagger's default response.
  if (schema?.response !== undefined) {
    documented.response = Object.fromEntries(Object.entries(schema.response as Record<string, { headers?: object }>)
      .map(([status, entry]) => [status, { ...entry, headers: { 'X-Request-Id': REQUEST_ID_OUT, ...entry.headers } }]))
  }
  return { schema: documented, url }
}

interface HeaderObject { schema?: { required?: unknown }, required?: boolean }
interface Operation { requestBody?: { required?: boolean }, responses?: Record<string, { headers?: Record<string, HeaderObject> }> }
interface Document { paths?: Record<string, Record<string, Operation>> }

/**
 * @fastify/swagger copies a response header's schema whole; `required` belongs to the
 * OpenAPI header object, not to its JSON schema (where it would mean something else).
 */
function liftHeaderRequired (document: Document): void {
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const header of Object.values(response.headers ?? {})) {
          if (typeof header.schema?.required !== 'boolean') continue
          header.required = header.schema.required
          delete header.schema.required
        }
      }
    }
  }
}

export async function registerOpenApi (app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'hottask-proxy',
        version: options.version,
        description: DESCRIPTION,
        // The proxy is self-hosted: whoever runs it answers for it.
        contact: { name: 'The team that operates this deployment of hottask-proxy' },
        // npm's UNLICENSED (no licence granted) is no SPDX id; SPDX names such terms LicenseRef-….
        license: { name: options.license, identifier: options.license === 'UNLICENSED' ? 'LicenseRef-Proprietary' : options.license }
      },
      // Relative: the proxy serves this document itself, so its own origin is the server.
      servers: [{ url: '/', description: 'The proxy that serves this document.' }],
      tags: [
        { name: 'sessions', description: 'Chat sessions' },
        { name: 'ops', description: 'Health and readiness for orchestrators' }
      ],
      components: {
        securitySchemes: {
          clientToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'An internal client token from the deployment\'s `CLIENT_TOKENS` or `CLIENT_TOKENS_FILE`: optional unless it sets `REQUIRE_CLIENT_TOKEN`. Never forwarded upstream.'
          },
          visitorToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'A short-lived JWT your site\'s backend signs for its signed-in visitor (`VISITOR_JWKS_URL`, `VISITOR_JWT_PUBLIC_KEY` or `VISITOR_JWT_SECRET`; `exp` and `sub` required): the visitor\'s identity keys the rate limit and the daily quotas and binds the session token. Required for browser requests with `REQUIRE_VISITOR_TOKEN`. Never forwarded upstream.'
          }
        }
      }
    },
    // Shared schemas keep their `$id` as their component name (`Problem`), not `def-0`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transform: withRequestId,
    transformObject: (documentObject) => {
      // Always the OpenAPI form here: this plugin configures `openapi`, never `swagger`.
      const { openapiObject } = documentObject as Extract<typeof documentObject, { openapiObject: unknown }>
      const document = openapiObject as Document
      liftHeaderRequired(document)
      const sessions = document.paths?.['/sessions']?.post
      if (options.sessionBodyOptional && sessions?.requestBody !== undefined) sessions.requestBody.required = false
      return openapiObject
    }
  })
}
