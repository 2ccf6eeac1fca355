// A signal that fires when the client's connection closes before its response was
// sent. (Fastify's request.signal cannot serve: it fires once the request body has
// been read, which is before every handler of a POST runs.) The watch is one object, held
// by its request across the upstream wait: the cancellation itself, found again from the
// response by one listener function shared by every request.
import type { FastifyReply } from 'fastify'
import type { ServerResponse } from 'node:http'
import { Cancel } from '../lib/cancel.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import { ClientGoneError } from '../lib/abort-reasons.ts'

const WATCH = Symbol('hottask-proxy.clientWatch')

type Watched = ServerResponse & { [WATCH]?: ClientWatch }

/** Every response's 'close' listener: the response is `this`. */
function onClose (this: Watched): void {
  if (!this.writableFinished) this[WATCH]?.abort(new ClientGoneError())
}

export class ClientWatch extends Cancel {
  readonly #response: Watched

  constructor (response: Watched) {
    super()
    this.#response = response
    response[WATCH] = this
    response.on('close', onClose)
  }

  get signal (): CancelSignal { return this }

  /** Stops watching: the response is about to be sent. */
  release (): void {
    this.#response.removeListener('close', onClose)
  }
}

export function watchClient (reply: FastifyReply): ClientWatch {
  return new ClientWatch(reply.raw)
}
