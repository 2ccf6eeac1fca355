// The identity quotas count by: a visitor token's subject (as its digest), else a client
// token's name, else the address (IPv6 by its /64, as the rate limit counts it).
import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

export function identityOf (request: FastifyRequest): string {
  if (request.visitorId !== null) return `v:${request.visitorId}`
  if (request.clientName !== null) return `c:${request.clientName}`
  return `a:${normalizeIP(request.ip)}`
}
