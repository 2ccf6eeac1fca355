// A signal that fires when the client's connection closes before its response was
// sent. (Fastify's request.signal cannot serve: it fires once the request body has
// been read, which is before every handler of a POST runs.)
import type { FastifyReply } from 'fastify'
import { Cancel } from '../lib/cancel.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import { ClientGoneError } from '../lib/abort-reasons.ts'

export interface ClientWatch {
  signal: CancelSignal
  release: () => void
}

export function watchClient (reply: FastifyReply): ClientWatch {
  const gone = new Cancel()
  const response = reply.raw
  const onClose = (): void => {
    if (!response.writableFinished) gone.abort(new ClientGoneError())
  }
  response.once('close', onClose)
  return { signal: gone, release: () => response.off('close', onClose) }
}
