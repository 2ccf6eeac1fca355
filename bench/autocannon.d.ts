// The part of autocannon 9's programmatic API the benchmark uses (the package ships no
// types, and @types/autocannon is not a dependency).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    duration?: number
    overallRate?: number
    timeout?: number
    pipelining?: number
    /** Each request is passed through setupRequest before it is sent. */
    requests?: Array<{ setupRequest?: (request: { headers?: Record<string, string> }) => object }>
  }

  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
    requests: { total: number, average: number, sent: number }
    latency: { p50: number, p99: number, average: number, max: number }
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop: () => void
  }

  function autocannon (options: Options): Instance
  export default autocannon
}
