// `npm run demo`: the simulated upstream, the real proxy process wired to it, and the
// widget example page on its own origin, so a newcomer sees a session created — from
// curl and from a browser — without a key or a network.
// DEMO_PORT (default 3000) is the proxy's port, DEMO_WIDGET_PORT (default 3001) the
// widget page's; the simulator takes a free port. Everything listens on loopback only.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SIM_KEY, startSimulator } from '../simulator/server.ts'
import { startStaticServer } from './static-server.ts'

const HOST = '127.0.0.1'
const port = Number(process.env.DEMO_PORT ?? 3000)
const widgetPort = Number(process.env.DEMO_WIDGET_PORT ?? 3001)
const base = `http://${HOST}:${port}`

// The page on its own origin: its calls to the proxy are cross-origin, as on a real site.
// Its CSP lets it fetch only the proxy.
const widget = await startStaticServer(fileURLToPath(new URL('../examples/widget/', import.meta.url)), {
  host: HOST,
  port: widgetPort,
  connectSrc: [base]
})
const upstream = await startSimulator({ key: DEFAULT_SIM_KEY })

const proxy = spawn(process.execPath, [fileURLToPath(new URL('../src/server.ts', import.meta.url))], {
  env: {
    ...process.env,
    // The demo never uses a real key or the real upstream, whatever ./.env says.
    HOTTASK_API_KEY: DEFAULT_SIM_KEY,
    HOTTASK_API_KEY_FILE: '',
    HOTTASK_BASE_URL: upstream.url,
    HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true',
    HOST,
    PORT: String(port),
    // Exactly the widget page's origin may call from a browser.
    CORS_ORIGINS: widget.origin
  },
  // Its own process group: Ctrl+C reaches the demo, which forwards one SIGTERM (a second
  // signal would make the proxy exit at once).
  detached: true,
  stdio: ['ignore', 'pipe', 'inherit']
})

let announced = false
proxy.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  if (!announced && chunk.toString().includes('Server listening')) {
    announced = true
    // `:` and `/` are allowed in a query: the URL stays readable.
    const page = `${widget.origin}/?proxy=${base}`
    process.stdout.write([
      '',
      `hottask-proxy demo: proxy on ${base}, simulated upstream on ${upstream.url}`,
      'Open the widget example in a browser (CORS_ORIGINS allows exactly its origin):',
      `  ${page}`,
      `  ${page}&chatbot=sim-http-429-ra-30   (a refusal with Retry-After)`,
      'Create a session:',
      `  curl -i -X POST ${base}/sessions -H 'content-type: application/json' -d '{"serialNumber":"3254a9d0424c4806b9ea3d0763ccf123"}'`,
      'See a mapped upstream failure (any scenario of docs/simulator.md):',
      `  curl -i -X POST ${base}/sessions -H 'content-type: application/json' -d '{"serialNumber":"sim-code-404"}'`,
      'Press Ctrl+C to stop.',
      ''
    ].join('\n'))
  }
})

const stop = (): void => { proxy.kill('SIGTERM') }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
proxy.on('exit', (code) => {
  Promise.allSettled([upstream.close(), widget.close()]).finally(() => process.exit(code ?? 1))
})
