// Key rotation without restart: the key files are re-read on SIGHUP and whenever their
// directory changes (watching the directory sees Kubernetes' symlink swaps). A bad or
// empty file keeps the old key; a file still holding a refused key is ignored.
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { readKeyFile } from '../config/key-file.ts'
import { fingerprint } from '../lib/secrets.ts'
import type { KeyRing } from './key-ring.ts'

const DEBOUNCE_MS = 100

export interface KeyFilesOptions {
  currentFile: string | undefined
  nextFile: string | undefined
  ring: KeyRing
  log: FastifyBaseLogger
}

export class KeyFiles {
  readonly #options: KeyFilesOptions
  readonly #watchers: FSWatcher[] = []
  #timer: NodeJS.Timeout | undefined

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
    for (const directory of new Set(files.map((file) => dirname(file)))) {
      const watcher = watch(directory, { persistent: false }, () => {
        clearTimeout(this.#timer)
        this.#timer = setTimeout(() => this.reload('file change'), DEBOUNCE_MS)
        this.#timer.unref()
      })
      watcher.on('error', (error) => this.#options.log.error({ err: error.message }, 'cannot watch the API key file'))
      this.#watchers.push(watcher)
    }
  }

  close (): void {
    clearTimeout(this.#timer)
    for (const watcher of this.#watchers) watcher.close()
  }
}
