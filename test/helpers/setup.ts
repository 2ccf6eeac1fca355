// Builds the app against a real simulated upstream on loopback, capturing every log line.
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.ts'
import type { AppDeps } from '../../src/app.ts'
import { loadConfig } from '../../src/config/config.ts'
import type { Config } from '../../src/config/config.ts'
import { createMetrics } from '../../src/telemetry/metrics.ts'
import type { Metrics } from '../../src/telemetry/metrics.ts'
import { startSimulator } from '../../simulator/server.ts'
import type { Simulator, SimulatorOptions } from '../../simulator/server.ts'

export const TEST_KEY = 'test-key-S3cr3t-0123456789abcdef'
/** Shared by every app a test builds, as replicas share one. */
export const TEST_TOKEN_SECRET = 'test-session-token-secret-0123456789abcdef'

export class LogCapture {
  readonly lines: string[] = []
  write (line: string): void { this.lines.push(line) }
  get entries (): Array<Record<string, unknown>> { return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
  get text (): string { return this.lines.join('') }
}

export function testConfig (env: Record<string, string | undefined> = {}): Config {
  // Suites that walk many scenarios must trip neither the default rate limit nor the circuit.
  return loadConfig({
    HOTTASK_API_KEY: TEST_KEY,
    HOTTASK_BASE_URL: 'http://127.0.0.1:9',
    // The simulated upstream speaks plain http on loopback.
    HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true',
    LOG_LEVEL: 'trace',
    RATE_LIMIT_MAX: '100000',
    CIRCUIT_FAILURE_THRESHOLD: '100000',
    // A loaded CI machine must not shed the suite's requests (tested on its own).
    MAX_EVENT_LOOP_DELAY_MS: '0',
    SESSION_TOKEN_SECRET: TEST_TOKEN_SECRET,
    ...env
  })
}

export interface Harness {
  app: FastifyInstance
  upstream: Simulator
  logs: LogCapture
  /** The app's metrics (served on the metrics port, never by the app): read with `metrics.render()`. */
  metrics: Metrics
}

/** An app wired to a fresh simulator; both are closed when the test ends. */
export async function setup (t: Test, env: Record<string, string | undefined> = {}, options: { simulator?: SimulatorOptions, deps?: AppDeps } = {}): Promise<Harness> {
  const upstream = await startSimulator({ key: TEST_KEY, ...options.simulator })
  const logs = new LogCapture()
  const metrics = options.deps?.metrics ?? createMetrics()
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: upstream.url, ...env }), { logStream: logs, ...options.deps, metrics })
  t.teardown(async () => {
    await app.close()
    await upstream.close()
  })
  return { app, upstream, logs, metrics }
}

/** POST /sessions with a JSON body through inject. */
export function postSession (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/sessions',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })
}

/** A session created through the app: its id and token. */
export async function createSession (app: FastifyInstance, headers: Record<string, string> = {}, serialNumber = 'abc'): Promise<{ sessionId: string, sessionToken: string }> {
  const res = await postSession(app, { serialNumber }, headers)
  if (res.statusCode !== 201) throw new Error(`session not created: ${res.statusCode} ${res.body}`)
  const sessionId = /"sessionId":(\d+)/.exec(res.body)![1]!
  return { sessionId, sessionToken: (res.json() as { sessionToken: string }).sessionToken }
}

/** POST /sessions/{id}/messages through inject. */
export function postMessage (app: FastifyInstance, session: { sessionId: string, sessionToken?: string }, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/sessions/${session.sessionId}/messages`,
    headers: {
      'content-type': 'application/json',
      ...(session.sessionToken === undefined ? {} : { 'session-token': session.sessionToken }),
      ...headers
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body)
  })
}
