// Watches the directories of some files (which sees Kubernetes' symlink swaps, where
// watching the file itself would not) and coalesces each burst of changes into one call.
import { watch } from 'node:fs'
import type { FSWatcher } from 'node:fs'
import { dirname } from 'node:path'

const DEBOUNCE_MS = 100

export interface DirectoryWatch {
  close: () => void
}

export function watchDirectories (files: string[], onChange: () => void, onError: (error: Error) => void): DirectoryWatch {
  let timer: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = []
  for (const directory of new Set(files.map((file) => dirname(file)))) {
    const watcher = watch(directory, { persistent: false }, () => {
      clearTimeout(timer)
      timer = setTimeout(onChange, DEBOUNCE_MS)
      timer.unref()
    })
    watcher.on('error', onError)
    watchers.push(watcher)
  }
  return {
    close: () => {
      clearTimeout(timer)
      for (const watcher of watchers) watcher.close()
    }
  }
}
