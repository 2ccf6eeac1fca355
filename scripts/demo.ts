// `npm run demo`: the simulated upstream and the real proxy process, wired together,
// so a newcomer sees a session created without a key or a network.
// DEMO_PORT (default 3000) is the proxy's port; the simulator takes a free port.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SIM_KEY, startSimulator } from '../simulator/server.ts'

const port = Number(process.env.DEMO_PORT ?? 3000)
const upstream = await startSimulator({ key: DEFAULT_SIM_KEY })

const proxy = spawn(process.execPath, [fileURLToPath(new URL('../src/server.ts', import.meta.url))], {
  env: {
    ...process.env,
    // The demo never uses a real key or the real upstream, whatever ./.env says.
    HOTTASK_API_KEY: DEFAULT_SIM_KEY,
    HOTTASK_API_KEY_FILE: '',
    HOTTASK_BASE_URL: upstream.url,
    HOST: '127.0.0.1',
    PORT: String(port)
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
    const base = `http://127.0.0.1:${port}`
    process.stdout.write([
      '',
      `hottask-proxy demo: proxy on ${base}, simulated upstream on ${upstream.url}`,
      'Create a session:',
      `  curl -i -X POST ${base}/sessions -H 'content-type: application/json' -d '{"serialNumber":"3254a9d0424c4806b9ea3d0763ccf123"}'`,
      'See a mapped upstream failure (any scenario from the README):',
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
  upstream.close().finally(() => process.exit(code ?? 1))
})
