// A tiny static file server for the demo widget (`npm run demo` and its browser test).
// It serves only the regular files directly inside one folder, by an allow-listed
// extension, and nothing else: no subfolders, no dot-files, no symlinks, so no path
// traversal whatever the URL's spelling (`/../x`, `%2e%2e%2f`, `..%5c`, `%00`).
// Besides, and only at the exact paths the caller names: files from elsewhere (a
// library's browser build in node_modules, so the page loads nothing from a CDN) and
// answers computed per request (the demo's "site backend").
import { lstat, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { extname, join } from 'node:path'

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8'
}

// One path segment: a file name that does not start with a dot.
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface StaticOptions {
  /** Origins the page may `fetch` (CSP `connect-src`), e.g. the proxy's origin, or `'self'`. */
  connectSrc?: string[]
  /** Files from outside the folder, by the exact path they are served at: `/vendor/x.js` → an absolute file path. */
  files?: Readonly<Record<string, string>>
  /** Answers made per request, by exact path; they get the same security headers. */
  routes?: Readonly<Record<string, Handler>>
}

/** The Content-Security-Policy sent with every answer: no inline script or style. */
export function contentSecurityPolicy (connectSrc: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src ${connectSrc.length > 0 ? connectSrc.join(' ') : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}

/** A request URL's path, as sent (not decoded). */
const pathOf = (url: string | undefined): string => (url ?? '').split(/[?#]/, 1)[0] ?? ''

/** The file name a request path names inside the folder, or undefined (404). */
export function fileNameOf (url: string | undefined): string | undefined {
  const path = pathOf(url)
  if (path === '/') return 'index.html'
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return undefined
  }
  if (!decoded.startsWith('/')) return undefined
  const name = decoded.slice(1)
  if (!FILE_NAME.test(name) || !Object.hasOwn(CONTENT_TYPES, extname(name))) return undefined
  return name
}

/** A request handler serving the files of `root` (an absolute folder path), and `options.routes` and `options.files` at their exact paths. */
export function staticHandler (root: string, options: StaticOptions = {}): Handler {
  const common = {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy(options.connectSrc)
  }
  const files = options.files ?? {}
  const routes = options.routes ?? {}
  for (const file of Object.values(files)) {
    if (!Object.hasOwn(CONTENT_TYPES, extname(file))) throw new Error(`${file}: no content type for its extension`)
  }
  const fail = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...common, 'content-type': 'text/plain; charset=utf-8', ...extra }).end(`${text}\n`)
  }
  const send = (req: IncomingMessage, res: ServerResponse, file: string): void => {
    // lstat, not stat: a symlink in the folder is not followed out of it.
    lstat(file)
      .then(async (stats) => (stats.isFile() ? await readFile(file) : undefined))
      .catch(() => undefined)
      .then((body) => {
        if (body === undefined) {
          fail(res, 404, 'Not found')
          return
        }
        res.writeHead(200, { ...common, 'content-type': CONTENT_TYPES[extname(file)]!, 'content-length': body.length })
        res.end(req.method === 'HEAD' ? undefined : body)
      })
      .catch(() => { res.destroy() })
  }
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(res, 405, 'Method not allowed', { allow: 'GET, HEAD' })
      return
    }
    const path = pathOf(req.url)
    if (Object.hasOwn(routes, path)) {
      for (const [name, value] of Object.entries(common)) res.setHeader(name, value)
      routes[path]!(req, res)
      return
    }
    if (Object.hasOwn(files, path)) {
      send(req, res, files[path]!)
      return
    }
    const name = fileNameOf(req.url)
    if (name === undefined) {
      fail(res, 404, 'Not found')
      return
    }
    send(req, res, join(root, name))
  }
}

export interface StaticServer {
  /** http://<host>:<port> */
  origin: string
  server: Server
  close: () => Promise<void>
}

/** Serves `root` on `host:port` (port 0: a free one). */
export async function startStaticServer (root: string, options: StaticOptions & { host?: string, port?: number } = {}): Promise<StaticServer> {
  const host = options.host ?? '127.0.0.1'
  const server = createServer(staticHandler(root, options))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('static server has no port')
  return {
    origin: `http://${host}:${address.port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      // Browsers keep connections alive; close them or close() waits for them.
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}
