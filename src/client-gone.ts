// An AbortSignal that fires when the client's connection closes before its response
// was sent. (Fastify's request.signal cannot serve: it fires once the request body has
// been read, which is before every handler of a POST runs.)
import type { FastifyReply } from 'fastify'
import { ClientGoneError } from './upstream/abort-reasons.ts'

export interface ClientWatch {
  signal: AbortSignal
  release: () => void
}

export function watchClient (reply: FastifyReply): ClientWatch {
  const controller = new AbortController()
  const response = reply.raw
  const onClose = (): void => {
    if (!response.writableFinished) controller.abort(new ClientGoneError())
  }
  response.once('close', onClose)
  return { signal: controller.signal, release: () => response.off('close', onClose) }
}
