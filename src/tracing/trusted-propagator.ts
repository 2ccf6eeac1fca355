// Inbound W3C trace context, honoured only from callers allowed to steer it. The context is
// extracted before any guard runs (the request span must cover them), so trust is decided
// here, from the same client-token check the guard uses: a public caller's traceparent
// could otherwise join its requests to someone else's trace or force them to be sampled.
// What the proxy sends upstream is always injected.
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'

const TRACEPARENT = 'traceparent'

export class TrustedTraceContext implements TextMapPropagator {
  readonly #w3c = new W3CTraceContextPropagator()
  readonly #trusts: (authorization: string | undefined) => boolean

  /** `trusts` tells whether a request with this Authorization header (or none) may bring trace context. */
  constructor (trusts: (authorization: string | undefined) => boolean) {
    this.#trusts = trusts
  }

  inject (context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#w3c.inject(context, carrier, setter)
  }

  extract (context: Context, carrier: unknown, getter: TextMapGetter): Context {
    // Most requests bring no trace context: the token is checked only for those that do.
    if (getter.get(carrier, TRACEPARENT) === undefined) return context
    // Node keeps one Authorization header; anything else is not a header it parsed.
    const authorization = getter.get(carrier, 'authorization')
    if (!this.#trusts(typeof authorization === 'string' ? authorization : undefined)) return context
    return this.#w3c.extract(context, carrier, getter)
  }

  fields (): string[] {
    return this.#w3c.fields()
  }
}
