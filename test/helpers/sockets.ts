// Real sockets for feature tests that must cross the network stack: the app listens on a
// loopback port and requests go through undici, headers and all, as a browser's would.
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  json: () => Record<string, unknown>
}

export type Call = (method: 'GET' | 'POST', path: string, options?: { headers?: Record<string, string>, body?: unknown }) => Promise<Answer>

/** Makes `app` listen on 127.0.0.1 (closed with the app) and returns a caller for it. */
export async function listen (app: FastifyInstance): Promise<Call> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return async (method, path, options = {}) => {
    const hasBody = options.body !== undefined
    const response = await request(`${address}${path}`, {
      method,
      headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...options.headers },
      body: hasBody ? (typeof options.body === 'string' ? options.body : JSON.stringify(options.body)) : undefined
    })
    const body = await response.body.text()
    return { status: response.statusCode, headers: response.headers, body, json: () => JSON.parse(body) as Record<string, unknown> }
  }
}
