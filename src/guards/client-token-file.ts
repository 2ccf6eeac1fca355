// Client-token rotation without restart, like the API key and session-token secret files:
// CLIENT_TOKENS_FILE is re-read on SIGHUP and whenever its directory changes. A file that
// cannot be read, is empty or has a bad line keeps the tokens the service has, and says so
// in the log by line number, never by token.
import type { FastifyBaseLogger } from 'fastify'
import { CLIENT_TOKENS_FILE, readClientTokensFile } from '../config/client-tokens-file.ts'
import { watchDirectories } from '../lib/watch-directories.ts'
import type { DirectoryWatch } from '../lib/watch-directories.ts'
import type { ClientToken } from '../config/config.ts'
import type { ClientTokenSet } from './client-token.ts'

export interface ClientTokenFileOptions {
  file: string | undefined
  /** The tokens the set was built with, so a reload that reads the same ones is no change. */
  initial: ClientToken[]
  clients: ClientTokenSet
  log: FastifyBaseLogger
  /** Each token read from the file, so logs are scrubbed of it. */
  onToken: (token: string) => void
}

export class ClientTokenFile {
  readonly #options: ClientTokenFileOptions
  #watch: DirectoryWatch | undefined
  #current: string

  constructor (options: ClientTokenFileOptions) {
    this.#options = options
    this.#current = signature(options.initial)
  }

  /** Re-reads the file; `reason` is logged (SIGHUP, file change). */
  reload (reason: string): void {
    const { file, clients, log, onToken } = this.#options
    if (file === undefined) return
    const { value: tokens, problem } = readClientTokensFile(file)
    if (tokens === undefined) {
      log.error({ reason, problem }, 'client tokens file unusable; keeping the old tokens')
      return
    }
    // A directory event for another file, or a SIGHUP for the key, reads the same tokens.
    if (signature(tokens) === this.#current) return
    this.#current = signature(tokens)
    for (const { token } of tokens) onToken(token)
    clients.replace(tokens)
    log.info({ reason, variable: CLIENT_TOKENS_FILE, clients: tokens.map(({ name }) => name) }, 'client tokens reloaded')
  }

  watch (): void {
    const { file, log } = this.#options
    if (file === undefined) return
    this.#watch = watchDirectories([file], () => this.reload('file change'),
      (error) => log.error({ err: error.message }, 'cannot watch the client tokens file'))
  }

  close (): void {
    this.#watch?.close()
  }
}

const signature = (tokens: ClientToken[]): string => JSON.stringify(tokens.map(({ name, token }) => [name, token]))
