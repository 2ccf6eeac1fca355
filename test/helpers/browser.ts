// Real headless Chromium (Debian's package, driven by playwright-core; no downloaded
// browsers) and loopback HTTP servers that give each page or API its own origin, for
// tests of what a browser actually allows: CORS, exposed headers, preflights.
//
// Needs the Debian package chromium (scripts/ci/install-system-packages.sh), or
// CHROMIUM_PATH pointing at a Chromium binary. If it is missing the test fails.
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import type { Test } from 'tap'
import { requireExecutable } from './system-binaries.ts'

export const CHROMIUM_ARGS = [
  '--no-sandbox', // runs as root in CI containers, where the sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Docker gives /dev/shm 64 MB, too small for Chromium's shared memory: use /tmp
  // (playwright-core adds this one on Linux too; kept explicit in case that changes)
  '--disable-dev-shm-usage'
]

/** Where tests save screenshots and other evidence (git-ignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

/** The path of a file in test-artifacts/, creating the folder. */
export function artifactPath (name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  return `${ARTIFACTS_DIR}${name}`
}

/** Launches headless Chromium, closed on `t`'s teardown. */
export async function launchBrowser (t: Test): Promise<Browser> {
  const executablePath = requireExecutable(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', 'chromium', 'CHROMIUM_PATH')
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 })
  t.teardown(() => browser.close())
  return browser
}

export interface Served {
  /** http://127.0.0.1:<port>, an origin of its own. */
  origin: string
  server: Server
}

/** Serves `handler` on a free loopback port; closed (connections included) on teardown. */
export async function serve (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  t.teardown(() => new Promise<void>((resolve) => {
    // The browser keeps connections alive; close them or close() waits for them.
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('server has no port')
  return { origin: `http://127.0.0.1:${address.port}`, server }
}

/** Serves `html` at every path of its own loopback origin (favicon: 204). */
export async function servePage (t: Test, html: string): Promise<{ origin: string, url: string }> {
  const { origin } = await serve(t, (req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html)
  })
  return { origin, url: `${origin}/` }
}
