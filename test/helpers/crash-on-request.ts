// Preloaded into a proxy process by a test (node --import): a request to
// /healthz?crash-after-response ends with an uncaught exception, thrown right after the
// response has finished and before any timer can run, so the request's completion line
// is still in the unflushed log batch when the process crashes.
import { subscribe } from 'node:diagnostics_channel'

subscribe('http.server.response.finish', (message) => {
  const { request } = message as { request: { url?: string } }
  if (request.url !== '/healthz?crash-after-response') return
  process.nextTick(() => { throw new Error('crash requested by the test') })
})
