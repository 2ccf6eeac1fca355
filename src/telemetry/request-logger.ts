// Each request's logger, made only when the request writes a line of its own. Fastify
// gives every request a child of the app's logger bound to its id, and pino builds that
// child at once (an object and its bindings serialized to JSON), which the request then
// holds until it ends: across the upstream wait, where everything a request holds is
// promoted to the old generation. Most requests never use it (their one line is the
// completion line, telemetry/request-log.ts), so the child is made on first use.
import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, Logger } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type Write = (...args: unknown[]) => void

export class LazyChildLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  #child: Logger | undefined

  constructor (parent: Logger, bindings: Bindings) {
    this.#parent = parent
    this.#bindings = bindings
  }

  /** The real child, made once. */
  #real (): Logger {
    this.#child ??= this.#parent.child(this.#bindings)
    return this.#child
  }

  // A disabled level costs a level check, as pino's own no-op does, and makes no child.
  #write (level: Level, args: unknown[]): void {
    if (!(this.#child ?? this.#parent).isLevelEnabled(level)) return
    const real = this.#real()
    ;(real[level] as Write).apply(real, args)
  }

  get level (): string { return (this.#child ?? this.#parent).level }
  set level (level: string) { this.#real().level = level }

  isLevelEnabled (level: string): boolean { return (this.#child ?? this.#parent).isLevelEnabled(level) }

  child (bindings: Bindings, options?: ChildLoggerOptions): Logger { return this.#real().child(bindings, options) }

  fatal (...args: unknown[]): void { this.#write('fatal', args) }
  error (...args: unknown[]): void { this.#write('error', args) }
  warn (...args: unknown[]): void { this.#write('warn', args) }
  info (...args: unknown[]): void { this.#write('info', args) }
  debug (...args: unknown[]): void { this.#write('debug', args) }
  trace (...args: unknown[]): void { this.#write('trace', args) }
  silent (): void {}
}

/**
 * Fastify's childLoggerFactory; `logger` is the app's pino logger. A route with a log level or serializers of its own gets
 * pino's child at once (none of ours has either).
 */
export function requestLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options)
  return new LazyChildLogger(logger as Logger, bindings) as unknown as FastifyBaseLogger
}
