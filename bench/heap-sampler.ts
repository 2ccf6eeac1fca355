// Preloaded into a server by `bench:alloc` with PROFILE_HEAP=1 (`--import` this file):
// V8's sampling heap profiler, told to keep the samples of objects the collector has
// already freed, so the profile shows every allocation site of the run, garbage included —
// what a request allocates, not only what is still alive at the end. Sampling starts at
// once; HEAP_SAMPLE_START (a file path) restarts it when that file appears, so the warm-up
// is left out. The profile is written to HEAP_SAMPLE_FILE when the process exits.
import { Session } from 'node:inspector'
import { existsSync, watchFile, unwatchFile, writeFileSync } from 'node:fs'

const output = process.env.HEAP_SAMPLE_FILE
const startMarker = process.env.HEAP_SAMPLE_START
/** Bytes between samples on average: small enough for per-request sites at thousands of requests. */
const INTERVAL = 4096

if (output !== undefined) {
  const session = new Session()
  session.connect()
  const start = (): void => {
    session.post('HeapProfiler.startSampling', { samplingInterval: INTERVAL, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  }
  session.post('HeapProfiler.enable')
  start()
  if (startMarker !== undefined) {
    watchFile(startMarker, { interval: 100 }, () => {
      if (!existsSync(startMarker)) return
      unwatchFile(startMarker)
      session.post('HeapProfiler.stopSampling', () => start())
    }).unref()
  }
  // An in-process session answers synchronously, so this runs to the end inside 'exit'.
  process.on('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error === null) writeFileSync(output, JSON.stringify(result.profile))
    })
  })
}
