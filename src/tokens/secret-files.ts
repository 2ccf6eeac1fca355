// Session-token secret rotation without restart, like the key files: SESSION_TOKEN_SECRET_FILE
// and SESSION_TOKEN_SECRET_PREVIOUS_FILE are re-read on SIGHUP and when their directory
// changes. A file that cannot be read, or holds too short a secret, keeps the old secret.
import type { FastifyBaseLogger } from 'fastify'
import { readSecretFile } from '../config/key-file.ts'
import { watchDirectories } from '../lib/watch-directories.ts'
import type { DirectoryWatch } from '../lib/watch-directories.ts'
import type { SessionTokens } from './session-tokens.ts'

export interface SecretFilesOptions {
  secret: string
  secretFile: string | undefined
  previous: string | undefined
  previousFile: string | undefined
  tokens: SessionTokens
  log: FastifyBaseLogger
  /** Each secret read from a file, so logs are scrubbed of it. */
  onSecret: (secret: string) => void
}

export class SecretFiles {
  readonly #options: SecretFilesOptions
  #secret: string
  #previous: string | undefined
  #watch: DirectoryWatch | undefined

  constructor (options: SecretFilesOptions) {
    this.#options = options
    this.#secret = options.secret
    this.#previous = options.previous
  }

  reload (reason: string): void {
    const { secretFile, previousFile, tokens, log, onSecret } = this.#options
    let changed = false
    for (const [file, variable, slot] of [[secretFile, 'SESSION_TOKEN_SECRET_FILE', 'secret'], [previousFile, 'SESSION_TOKEN_SECRET_PREVIOUS_FILE', 'previous']] as const) {
      if (file === undefined) continue
      const { secret, problem } = readSecretFile(file, variable)
      if (secret === undefined) {
        log.error({ reason, problem }, 'session-token secret file unusable; keeping the old secret')
        continue
      }
      if ((slot === 'secret' ? this.#secret : this.#previous) === secret) continue
      onSecret(secret)
      if (slot === 'secret') this.#secret = secret
      else this.#previous = secret
      changed = true
      log.info({ reason, variable }, 'session-token secret reloaded')
    }
    if (changed) tokens.setSecrets(this.#secret, this.#previous)
  }

  watch (): void {
    const files = [this.#options.secretFile, this.#options.previousFile].filter((file) => file !== undefined)
    if (files.length === 0) return
    this.#watch = watchDirectories(files, () => this.reload('file change'),
      (error) => this.#options.log.error({ err: error.message }, 'cannot watch the session-token secret file'))
  }

  close (): void {
    this.#watch?.close()
  }
}
