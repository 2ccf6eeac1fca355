// The demo's static file server: the widget's files with the right content types and a
// strict CSP, and nothing else — no path traversal however the URL is spelled, no
// dot-files, subfolders, symlinks or unknown extensions.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import type { Test } from 'tap'
import { contentSecurityPolicy, fileNameOf, startStaticServer, staticHandler } from '../../scripts/static-server.ts'

const WIDGET = fileURLToPath(new URL('../../examples/widget/', import.meta.url))

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** A raw request: the path goes on the wire exactly as given (no normalisation). */
function get (origin: string, path: string, method = 'GET'): Promise<Answer> {
  const { hostname, port } = new URL(origin)
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function start (t: Test, root: string, connectSrc?: string[]): Promise<string> {
  const server = await startStaticServer(root, { connectSrc })
  t.teardown(server.close)
  return server.origin
}

test('serves the widget with the right content types and security headers', async (t) => {
  const origin = await start(t, WIDGET, ['http://127.0.0.1:3000'])
  const expected: Array<[string, string, string]> = [
    ['/', 'text/html; charset=utf-8', 'Start chat'],
    ['/index.html', 'text/html; charset=utf-8', 'Start chat'],
    ['/index.html?proxy=http://127.0.0.1:3000#x', 'text/html; charset=utf-8', 'Start chat'],
    ['/widget.js', 'text/javascript; charset=utf-8', 'createSession'],
    ['/page.js', 'text/javascript; charset=utf-8', 'identityFor'],
    ['/style.css', 'text/css; charset=utf-8', '.card'],
    ['/favicon.svg', 'image/svg+xml', '<svg']
  ]
  for (const [path, type, text] of expected) {
    const answer = await get(origin, path)
    t.equal(answer.status, 200, path)
    t.equal(answer.headers['content-type'], type, `${path} content type`)
    t.ok(answer.body.includes(text), `${path} body`)
    t.equal(answer.headers['x-content-type-options'], 'nosniff')
    t.equal(answer.headers['cache-control'], 'no-store')
    t.equal(answer.headers['content-security-policy'], contentSecurityPolicy(['http://127.0.0.1:3000']))
  }
  const csp = contentSecurityPolicy(['http://127.0.0.1:3000'])
  t.match(csp, /script-src 'self';/, 'no inline script')
  t.match(csp, /connect-src http:\/\/127\.0\.0\.1:3000;/, 'fetches only the proxy')
  t.match(contentSecurityPolicy(), /connect-src 'none'/)

  const head = await get(origin, '/widget.js', 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body, '')
  t.ok(Number(head.headers['content-length']) > 0)

  const post = await get(origin, '/', 'POST')
  t.equal(post.status, 405)
  t.equal(post.headers.allow, 'GET, HEAD')
})

test('nothing outside the folder, however the path is spelled', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'static-server-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'site')
  mkdirSync(join(root, 'sub'), { recursive: true })
  mkdirSync(join(root, 'dir.js'))
  writeFileSync(join(base, 'outside.js'), 'SECRET')
  writeFileSync(join(base, 'package.json'), 'SECRET')
  writeFileSync(join(root, 'index.html'), '<p>ok</p>')
  writeFileSync(join(root, 'app.js'), 'ok()')
  writeFileSync(join(root, '.hidden.js'), 'SECRET')
  writeFileSync(join(root, 'notes.txt'), 'SECRET')
  writeFileSync(join(root, 'sub', 'a.js'), 'SECRET')
  symlinkSync(join(base, 'outside.js'), join(root, 'link.js'))
  const origin = await start(t, root)

  t.equal((await get(origin, '/app.js')).body, 'ok()', 'a file of the folder is served')

  const refused = [
    '/../package.json',
    '/../outside.js',
    '/../../../../../../etc/passwd',
    '/..%2fpackage.json',
    '/..%2Foutside.js',
    '/%2e%2e/package.json',
    '/%2e%2e%2fpackage.json',
    '/%2E%2E%2Fpackage.json',
    '/%252e%252e%252fpackage.json',
    '/..%5cpackage.json',
    '/..\\package.json',
    '/%2fetc%2fpasswd',
    '//etc/passwd',
    '/sub/a.js',
    '/sub%2fa.js',
    '/./app.js',
    '/.hidden.js',
    '/link.js',
    '/dir.js',
    '/notes.txt',
    '/missing.js',
    '/app.js%00.html',
    '/%',
    '/%E0%A4%A',
    'http://127.0.0.1/../package.json',
    '*'
  ]
  for (const path of refused) {
    const answer = await get(origin, path)
    t.equal(answer.status, 404, `${path} is not found`)
    t.notMatch(answer.body, /SECRET/, `${path} leaks nothing`)
  }
})

test('fileNameOf maps request paths to one file name of the folder', async (t) => {
  t.equal(fileNameOf('/'), 'index.html')
  t.equal(fileNameOf('/?proxy=x'), 'index.html')
  t.equal(fileNameOf('/widget.js?v=1'), 'widget.js')
  t.equal(fileNameOf('/style%2Ecss'), 'style.css', 'an encoded dot in a plain name is fine')
  t.equal(fileNameOf(undefined), undefined)
  t.equal(fileNameOf('/../package.json'), undefined)
  t.equal(fileNameOf('/%2e%2e%2fpackage.json'), undefined)
  t.equal(fileNameOf('/Makefile'), undefined, 'no extension, no file')
})

test('files from elsewhere and routes are served at their exact paths only, with the same headers', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'static-server-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const root = join(base, 'site')
  mkdirSync(root)
  writeFileSync(join(base, 'lib.js'), 'lib()')
  writeFileSync(join(base, 'secret.js'), 'SECRET')
  const server = await startStaticServer(root, {
    connectSrc: ["'self'", 'http://127.0.0.1:3000'],
    files: { '/vendor/lib.js': join(base, 'lib.js'), '/vendor/gone.js': join(base, 'gone.js') },
    routes: { '/token': (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}') } }
  })
  t.teardown(server.close)
  const { origin } = server

  const lib = await get(origin, '/vendor/lib.js?v=1')
  t.equal(lib.status, 200)
  t.equal(lib.body, 'lib()')
  t.equal(lib.headers['content-type'], 'text/javascript; charset=utf-8')
  t.equal(lib.headers['content-security-policy'], contentSecurityPolicy(["'self'", 'http://127.0.0.1:3000']))
  t.match(lib.headers['content-security-policy'], /connect-src 'self' http:\/\/127\.0\.0\.1:3000;/)

  const route = await get(origin, '/token')
  t.equal(route.status, 200)
  t.equal(route.body, '{"token":"t"}')
  t.equal(route.headers['content-type'], 'application/json', "the route's own headers")
  t.equal(route.headers['x-content-type-options'], 'nosniff', 'and the common ones')
  t.equal(route.headers['cache-control'], 'no-store')
  t.equal((await get(origin, '/token', 'POST')).status, 405, 'GET and HEAD only, routes too')

  for (const path of ['/vendor/gone.js', '/vendor/%6cib.js', '/vendor/lib.js/', '/vendor/../secret.js', '/vendor/secret.js', '/lib.js', '/token/', '/Token', '/constructor', '/__proto__']) {
    const answer = await get(origin, path)
    t.equal(answer.status, 404, `${path} is not found`)
    t.notMatch(answer.body, /SECRET/)
  }
  t.throws(() => staticHandler(root, { files: { '/notes': join(base, 'notes.txt') } }), /no content type/, 'a file of an unknown type is refused at once')
})
