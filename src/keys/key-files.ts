// Key rotation without restart: the key files are re-read on SIGHUP and whenever their
// directory changes (watching the directory sees Kubernetes' symlink swaps). A bad or
// empty file keeps the old key; a file still holding a refused key is ignored.
import type { FastifyBaseLogger } from 'fastify'
import { readKeyFile } from '../config/key-file.ts'
import { fingerprint } from '../lib/secrets.ts'
import { watchDirectories } from '../lib/watch-directories.ts'
import type { DirectoryWatch } from '../lib/watch-directories.ts'
import type { KeyRing } from './key-ring.ts'

export interface KeyFilesOptions {
  currentFile: string | undefined
  nextFile: string | undefined
  ring: KeyRing
  log: FastifyBaseLogger
}

export class KeyFiles {
  readonly #options: KeyFilesOptions
  #watch: DirectoryWatch | undefined

  constructor (options: KeyFilesOptions) {
    this.#options = options
  }

  /** Re-reads both files; `reason` is logged (SIGHUP, file change). */
  reload (reason: string): void {
    const { currentFile, nextFile, ring, log } = this.#options
    for (const [file, variable, slot] of [[currentFile, 'HOTTASK_API_KEY_FILE', 'current'], [nextFile, 'HOTTASK_API_KEY_NEXT_FILE', 'next']] as const) {
      if (file === undefined) continue
      const { key, problem } = readKeyFile(file, variable)
      if (key === undefined) {
        log.error({ reason, problem }, 'API key file unusable; keeping the old key')
        continue
      }
      if (ring.isRefused(key)) {
        log.warn({ reason, variable, refused: fingerprint(key), current: fingerprint(ring.current) }, 'API key file still holds a refused key; ignored')
        continue
      }
      const changed = slot === 'current' ? ring.setCurrent(key) : ring.setNext(key)
      if (changed) log.info({ reason, variable, fingerprint: fingerprint(key) }, 'API key reloaded')
    }
  }

  /** Watches the files' directories; changes are coalesced into one reload. */
  watch (): void {
    const files = [this.#options.currentFile, this.#options.nextFile].filter((file) => file !== undefined)
    this.#watch = watchDirectories(files, () => this.reload('file change'),
      (error) => this.#options.log.error({ err: error.message }, 'cannot watch the API key file'))
  }

  close (): void {
    this.#watch?.close()
  }
}
