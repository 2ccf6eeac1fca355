// The image's HEALTHCHECK: GET /healthz on loopback, exit 0 on 200 and 1 otherwise.
// Node's own http client, so the image needs no curl or wget; a short deadline, so a
// hung process fails the check instead of stalling it.
import { request } from 'node:http'
import { VARIABLES } from '../src/config/schema.ts'

const TIMEOUT_MS = 3000

/** The port the service listens on: PORT, or the service's own default (an empty PORT means unset there too). */
export function healthcheckPort (env: Record<string, string | undefined>): number {
  const port = env.PORT
  return port === undefined || port === '' ? VARIABLES.PORT.schema.default : Number(port)
}

function fail (reason: string): never {
  process.stderr.write(`healthcheck: ${reason}\n`)
  process.exit(1)
}

if (import.meta.main) {
  const req = request({ host: '127.0.0.1', port: healthcheckPort(process.env), path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
    res.resume()
    if (res.statusCode !== 200) fail(`status ${res.statusCode}`)
    process.exit(0)
  })
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)))
  req.on('error', (error) => fail(error.message))
  req.end()
}
