// The image's HEALTHCHECK script, run as the container runs it: a real process against
// a real server on loopback.
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import type { Test } from 'tap'
import { healthcheckPort } from '../../scripts/healthcheck.ts'
import { loadConfig } from '../../src/config/config.ts'

const script = fileURLToPath(new URL('../../scripts/healthcheck.ts', import.meta.url))

function runHealthcheck (port: number | ''): Promise<{ code: number | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script], { env: { PORT: String(port) }, timeout: 10000 }, (_error, _stdout, stderr) => {
      resolve({ code: child.exitCode, stderr })
    })
  })
}

async function serve (t: Test, status: number, delayMs = 0, port = 0): Promise<number> {
  const server = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(req.url === '/healthz' ? status : 404).end('{"status":"ok"}')
    }, delayMs)
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return (server.address() as AddressInfo).port
}

test('exits 0 when /healthz answers 200', async (t) => {
  const result = await runHealthcheck(await serve(t, 200))
  t.equal(result.code, 0)
  t.equal(result.stderr, '')
})

test('exits 1 when /healthz answers anything else', async (t) => {
  const result = await runHealthcheck(await serve(t, 503))
  t.equal(result.code, 1)
  t.match(result.stderr, /status 503/)
})

test('exits 1 when nothing listens', async (t) => {
  const free = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
  const result = await runHealthcheck(free)
  t.equal(result.code, 1)
  t.match(result.stderr, /ECONNREFUSED/)
})

test('exits 1 when the answer takes longer than its deadline', async (t) => {
  const result = await runHealthcheck(await serve(t, 200, 5000))
  t.equal(result.code, 1)
  t.match(result.stderr, /no answer within/)
})

test('an empty or missing PORT means the service\'s own default port', async (t) => {
  t.equal(healthcheckPort({}), 3000)
  t.equal(healthcheckPort({ PORT: '' }), 3000)
  t.equal(healthcheckPort({ PORT: '8080' }), 8080)
  t.equal(healthcheckPort({}), loadConfig({ HOTTASK_API_KEY: 'k-0123456789' }).port, 'the same default as the service')
})
