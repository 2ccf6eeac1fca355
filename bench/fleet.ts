// The processes under test and their upstreams. The simulated upstreams live for the
// whole benchmark; the servers can be started afresh between rounds (restartServers),
// because two processes of the same server differ by up to a quarter in CPU per request
// here, by what their first seconds happened to be. Each group of targets has its own
// simulated upstream, so that upstream's counters (requests, connections) belong to one target.
// Every Node server runs with production's node flags, like for like; the two peers also
// run at V8's defaults (`<kind>-defaults`), a reference line, since their authors ship no flags.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, inBatches, start } from './processes.ts'
import type { Child } from './processes.ts'
import {
  ALLOWED_ORIGIN, BODY, DISALLOWED_ORIGIN, LABELS, oursEnv, peerEnv, PRODUCTION_NODE_ARGS, SERVERS, SIM_KEY, SIMULATOR, simulatorEnv, SLOW_POOL, SLOW_UPSTREAM_MS,
  VISITOR_FRESH_LABEL, VISITOR_LABEL, visitorIdentity
} from './targets.ts'
import type { ServerKind, Target } from './targets.ts'
import { upstreamControl } from './upstream-stats.ts'
import type { UpstreamControl } from './upstream-stats.ts'

/** The slow scenario's targets, each with a slow upstream of its own. */
const SLOW_TARGETS = ['direct', 'minimal', 'http-proxy', 'ours', 'minimal-defaults', 'http-proxy-defaults'] as const
/** The peers again, without production's node flags. */
const DEFAULTS = ['minimal', 'http-proxy'] as const

export interface Pinning { load: number, servers: number }

export interface FleetOptions {
  pinning?: Pinning
  /** NODE_OPTIONS for our proxy only, e.g. `--cpu-prof --cpu-prof-dir=…`. */
  oursNodeOptions?: string
  /** A folder for our proxy's logs, one file per process; /dev/null otherwise. */
  logDir?: string
  progress?: (message: string) => void
}

export class Fleet {
  readonly targets = new Map<string, Target>()
  #children: Child[] = []
  /** How to start each server target again, by target id. */
  readonly #launchers = new Map<string, () => Promise<void>>()
  readonly #controls: UpstreamControl[] = []
  readonly #cwd = mkdtempSync(join(tmpdir(), 'hottask-bench-'))
  readonly #options: FleetOptions

  constructor (options: FleetOptions) {
    this.#options = options
  }

  async #spawn (name: string, path: string, port: number, env: Record<string, string>, cpu: number | undefined, stdout?: string, nodeArgs?: string[]): Promise<Child> {
    const started = performance.now()
    // An empty working directory: our server would read a developer's ./.env otherwise.
    const child = await start({ name, script: path, nodeArgs, cwd: this.#cwd, port, cpu, env, stdout })
    this.#children.push(child)
    this.#options.progress?.(`started ${name} (pid ${child.pid}, ${child.url}) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    return child
  }

  async #simulator (name: string, delayMs: number): Promise<{ child: Child, control: UpstreamControl }> {
    const port = await freePort()
    const child = await this.#spawn(name, SIMULATOR, port, simulatorEnv(port, delayMs), this.#options.pinning?.load)
    const control = upstreamControl(child.url)
    this.#controls.push(control)
    return { child, control }
  }

  #add (target: Target): void { this.targets.set(target.id, target) }

  async #proxy (id: string, kind: ServerKind, upstream: { child: Child, control: UpstreamControl }, env: Record<string, string>, request: { origin: string, expectedStatus: number, headers?: Record<string, string>, label?: string, rotatingHeader?: Target['rotatingHeader'] }, nodeArgs = PRODUCTION_NODE_ARGS): Promise<void> {
    const launch = async (): Promise<void> => {
      const port = await freePort()
      const base = { HOST: '127.0.0.1', PORT: String(port), HOTTASK_BASE_URL: upstream.child.url, HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true', HOTTASK_API_KEY: SIM_KEY, ...env }
      const serverEnv = kind === 'ours' ? await oursEnv(base, this.#options.oursNodeOptions) : peerEnv(base)
      const logDir = this.#options.logDir
      const stdout = kind === 'ours' && logDir !== undefined ? join(logDir, `${id}.log`) : undefined
      const server = await this.#spawn(id, SERVERS[kind], port, serverEnv, this.#options.pinning?.servers, stdout, nodeArgs)
      this.#add({
        id,
        label: request.label ?? LABELS[kind],
        url: `${server.url}/sessions`,
        headers: { 'content-type': 'application/json', origin: request.origin, ...request.headers },
        body: BODY,
        expectedStatus: kind === 'http-proxy' ? 200 : request.expectedStatus,
        rotatingHeader: request.rotatingHeader,
        server,
        upstream: upstream.control
      })
    }
    this.#launchers.set(id, launch)
    await launch()
  }

  #direct (id: string, upstream: { child: Child, control: UpstreamControl }): void {
    this.#add({
      id,
      label: LABELS.direct,
      url: `${upstream.child.url}/chat/Chatbot/GetSession`,
      headers: { 'content-type': 'application/json', authorization: SIM_KEY },
      body: BODY,
      expectedStatus: 200,
      upstream: upstream.control
    })
  }

  /** Starts every process; ids are `<kind>` (fast), `<kind>-slow`, `<peer>-defaults(-slow)`, `ours-visitor`, `ours-visitor-fresh`, `ours-429`, `ours-403`. */
  async start (): Promise<void> {
    const ok = { origin: ALLOWED_ORIGIN, expectedStatus: 201 }
    const sims = await inBatches([
      () => this.#simulator('simulator', 0),
      ...SLOW_TARGETS.map((id) => () => this.#simulator(`simulator-slow-${id}`, SLOW_UPSTREAM_MS)),
      () => this.#simulator('simulator-refusals', 0)
    ])
    const fast = sims[0]!
    const slow = (id: typeof SLOW_TARGETS[number]): { child: Child, control: UpstreamControl } => sims[1 + SLOW_TARGETS.indexOf(id)]!
    const refusals = sims[1 + SLOW_TARGETS.length]!
    this.#direct('direct', fast)
    this.#direct('direct-slow', slow('direct'))
    const slowPool = { UPSTREAM_MAX_CONCURRENCY: String(SLOW_POOL) }
    const servers = [
      ...(['minimal', 'http-proxy', 'ours'] as const).flatMap((kind) => [
        () => this.#proxy(kind, kind, fast, {}, ok),
        () => this.#proxy(`${kind}-slow`, kind, slow(kind), slowPool, ok)
      ]),
      ...DEFAULTS.flatMap((kind) => {
        const defaults = { ...ok, label: `${LABELS[kind]}, V8 defaults` }
        return [
          () => this.#proxy(`${kind}-defaults`, kind, fast, {}, defaults, []),
          () => this.#proxy(`${kind}-defaults-slow`, kind, slow(`${kind}-defaults`), slowPool, defaults, [])
        ]
      })
    ]
    const visitor = await visitorIdentity()
    await inBatches([
      ...servers,
      () => this.#proxy('ours-visitor', 'ours', fast, visitor.env, { ...ok, headers: { authorization: visitor.authorization }, label: VISITOR_LABEL }),
      () => this.#proxy('ours-visitor-fresh', 'ours', fast, visitor.env, { ...ok, rotatingHeader: { name: 'authorization', values: visitor.fresh }, label: VISITOR_FRESH_LABEL }),
      () => this.#proxy('ours-429', 'ours', refusals, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '3600000' }, { origin: ALLOWED_ORIGIN, expectedStatus: 429 }),
      () => this.#proxy('ours-403', 'ours', refusals, {}, { origin: DISALLOWED_ORIGIN, expectedStatus: 403 })
    ])
  }

  /** Stops every server (not the simulated upstreams) and starts each again, on new ports. */
  async restartServers (): Promise<void> {
    const servers = [...this.targets.values()].flatMap((target) => target.server === undefined ? [] : [target.server])
    await Promise.all(servers.map((server) => server.stop()))
    this.#children = this.#children.filter((child) => !servers.includes(child))
    await inBatches([...this.#launchers.values()])
  }

  /** Every child's pid, for CPU accounting. */
  pids (): number[] {
    return this.#children.filter((child) => child.running()).map((child) => child.pid)
  }

  target (id: string): Target {
    const target = this.targets.get(id)
    if (target === undefined) throw new Error(`no target ${id}`)
    return target
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.#controls.map((control) => control.close()))
    await Promise.allSettled(this.#children.map((child) => child.stop()))
    rmSync(this.#cwd, { recursive: true, force: true })
  }
}
