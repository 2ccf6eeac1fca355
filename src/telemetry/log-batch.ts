// Log lines written in batches: one write per ~4 KiB of lines (about a dozen requests)
// instead of one per line, and at least every `flushMs` when traffic is light.
// sonic-boom can batch by itself (minLength), but it re-measures its whole pending
// buffer with Buffer.byteLength on every line, which flattens the growing string each
// time, costing as much as pino takes to build the line. Here lines wait in an array
// and are joined once per batch.
import type { DestinationStream } from 'pino'

/** Where a batch goes: a pino destination (sonic-boom) with minLength 0. */
export interface BatchSink extends DestinationStream {
  write: (text: string) => void
  flushSync: () => void
}

export interface LogBatchOptions {
  /** A batch is written once it holds this many characters. */
  bytes: number
  /** Lines never wait longer than this. */
  flushMs: number
}

export class LogBatch implements DestinationStream {
  readonly #sink: BatchSink
  readonly #bytes: number
  #lines: string[] = []
  #length = 0

  constructor (sink: BatchSink, options: LogBatchOptions) {
    this.#sink = sink
    this.#bytes = options.bytes
    // The timer must not keep an otherwise finished process alive.
    setInterval(() => this.flush(), options.flushMs).unref()
  }

  write (line: string): void {
    this.#lines.push(line)
    // Characters, not bytes: close enough for a threshold, and free to count.
    this.#length += line.length
    if (this.#length >= this.#bytes) this.flush()
  }

  /** Hands the pending lines to the sink (which may still write them asynchronously). */
  flush (): void {
    if (this.#lines.length === 0) return
    const text = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join('')
    this.#lines = []
    this.#length = 0
    this.#sink.write(text)
  }

  /** Writes everything now, before the process exits. */
  flushSync (): void {
    this.flush()
    this.#sink.flushSync()
  }
}
