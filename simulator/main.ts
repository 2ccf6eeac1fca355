// Runs the simulated upstream as a process: `npm run simulator`.
// SIM_PORT (default 4010), SIM_HOST (127.0.0.1), SIM_API_KEY, SIM_DELAY_MS.
import { DEFAULT_SIM_KEY, startSimulator } from './server.ts'

const simulator = await startSimulator({
  port: Number(process.env.SIM_PORT ?? 4010),
  host: process.env.SIM_HOST ?? '127.0.0.1',
  key: process.env.SIM_API_KEY ?? DEFAULT_SIM_KEY,
  delayMs: Number(process.env.SIM_DELAY_MS ?? 0)
})
process.stdout.write(`simulated hottask upstream on ${simulator.url}\n`)
const stop = (): void => { simulator.close().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
