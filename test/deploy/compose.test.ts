// docker-compose.yml, checked without a container engine: valid against the Compose
// Specification's own JSON schema (a copy in test/fixtures, see its README), and hardened
// as issue 5 asks. Variables are filled from their defaults in the file only, never from
// the environment or .env, so nothing here can print a real configuration or key.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { test } from 'tap'
import { parse } from 'yaml'
import { DEFAULT_SIM_KEY } from '../../simulator/server.ts'
import { CONFIG_VARIABLES } from '../../src/config/schema.ts'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

interface Service {
  image?: string
  build?: { context: string, target?: string }
  profiles?: string[]
  environment?: Record<string, string>
  ports?: string[]
  secrets?: Array<string | { source: string, target?: string }>
  networks?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  volumes?: string[]
  command?: string[]
  [key: string]: unknown
}
interface Compose {
  name?: string
  services: Record<string, Service>
  networks: Record<string, { internal?: boolean } | null>
  secrets: Record<string, { file?: string }>
}

const composeText = read('docker-compose.yml')
// Merge keys (`<<`) are how the file shares the proxy's hardening; compose reads them too.
const raw = parse(composeText, { merge: true }) as Compose
/** `${NAME:-default}` and `${NAME-default}` become their default, `${NAME}` becomes empty. */
const interpolated = parse(composeText.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_all, _name, fallback?: string) => fallback ?? ''), { merge: true }) as Compose
const services = Object.entries(interpolated.services)
const inDefaultProfile = services.filter(([, s]) => s.profiles === undefined)
const proxy = interpolated.services.proxy!
const hardened = (service: Service): boolean =>
  service.read_only === true &&
  (service.cap_drop as string[] | undefined)?.includes('ALL') === true &&
  (service.security_opt as string[] | undefined)?.includes('no-new-privileges:true') === true

function composeSchemaValidator (): Ajv {
  const schema = JSON.parse(read('test/fixtures/compose-spec.json')) as Record<string, unknown>
  // It declares draft-07 by an https URI that Ajv's built-in draft-07 meta-schema does not
  // carry; Ajv's default dialect is draft-07 anyway.
  delete schema.$schema
  const ajv = new Ajv({ allErrors: true, strict: false })
  addFormats.default(ajv)
  // Formats older and newer copies of the schema use (compose-go's own checks, simplified).
  ajv.addFormat('duration', /^([+-]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/)
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
  ajv.addFormat('ports', /^([^:]+:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/)
  ajv.addSchema(schema, 'compose-spec')
  return ajv
}

test('the schema fixture is the copy its README names', async (t) => {
  const digest = createHash('sha256').update(readFileSync(new URL('test/fixtures/compose-spec.json', root))).digest('hex')
  t.match(read('test/fixtures/README.md'), digest)
  t.ok(existsSync(new URL('test/fixtures/LICENSE-compose-spec', root)))
})

test('docker-compose.yml is valid against the Compose Specification', async (t) => {
  const ajv = composeSchemaValidator()
  for (const [label, document] of [['as written', raw], ['with defaults filled in', interpolated]] as const) {
    const valid = ajv.validate('compose-spec', document)
    // Only paths and schema messages: never the document's values.
    t.ok(valid, `${label}: ${ajv.errorsText(ajv.errors, { dataVar: 'compose' })}`)
  }
  t.equal(interpolated.name, 'hottask-proxy', 'a top-level project name')
})

test('every service is hardened, limited, health-checked and pinned', async (t) => {
  for (const [name, service] of services) {
    t.ok(hardened(service), `${name}: read_only, cap_drop ALL, no-new-privileges`)
    t.ok(service.mem_limit, `${name}: memory limit`)
    t.ok(service.pids_limit, `${name}: pids limit`)
    t.ok(service.healthcheck, `${name}: healthcheck`)
    t.notOk(service.privileged, `${name}: not privileged`)
    if (service.build === undefined) t.match(service.image, /^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$/, `${name}: exact image version`)
    if (service.profiles === undefined) t.equal(service.restart, 'unless-stopped', `${name}: restarts`)
  }
})

test('the proxy gets its key and its session-token secret as secret files, never environment variables', async (t) => {
  t.equal(proxy.build?.target, 'runtime')
  t.same(proxy.secrets, ['hottask_api_key', 'session_token_secret'])
  t.equal(proxy.environment?.HOTTASK_API_KEY_FILE, '/run/secrets/hottask_api_key')
  t.equal(proxy.environment?.SESSION_TOKEN_SECRET_FILE, '/run/secrets/session_token_secret', 'one secret for every replica')
  t.notOk('SESSION_TOKEN_SECRET' in (proxy.environment ?? {}))
  t.match(interpolated.secrets.session_token_secret?.file, /^\.\/secrets\//)
  t.notOk('HOTTASK_API_KEY' in (proxy.environment ?? {}))
  t.notMatch(composeText, /HOTTASK_API_KEY\s*[:=]/, 'no service sets the key itself')
  const file = interpolated.secrets.hottask_api_key?.file
  t.match(file, /^\.\/secrets\//)
  t.ok(read('.dockerignore').split('\n').includes('secrets/'), 'secrets/ never enters an image')
  t.ok(read('.gitignore').split('\n').includes('secrets/'), 'secrets/ is never committed')
})

test('the proxy runs behind one balancer, with Redis shared by its replicas', async (t) => {
  t.notOk(proxy.ports, 'replicas are not published (so they can scale)')
  t.notOk(proxy.container_name, 'no fixed container name (so they can scale)')
  t.equal(proxy.environment?.TRUST_PROXY, '1', 'trusts exactly one hop')
  t.equal(proxy.environment?.REDIS_URL, 'redis://redis:6379')
  t.same(proxy.depends_on?.redis, { condition: 'service_healthy' })
  t.notMatch(proxy.environment?.HOTTASK_BASE_URL ?? '', /simulator/, 'production never defaults to the simulator')

  const published = inDefaultProfile.filter(([, s]) => s.ports !== undefined).map(([name]) => name)
  t.same(published, ['lb'], 'the balancer is the only published service')
  const lb = interpolated.services.lb!
  t.match(lb.image, /^nginx:/)
  t.same(lb.depends_on?.proxy, { condition: 'service_healthy' })
  t.ok(lb.volumes?.includes('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro'))
  const nginx = read('deploy/nginx.conf')
  t.match(nginx, /resolver 127\.0\.0\.11\b/, "Docker's DNS finds every replica")
  t.match(nginx, /server proxy:3000 resolve\b/, 're-resolved as replicas come and go')
  t.match(nginx, /proxy_set_header X-Forwarded-For \$remote_addr;/, 'the client cannot forge the hop')

  const redis = interpolated.services.redis!
  t.notOk(redis.ports, 'redis is not published')
  t.same(redis.networks, ['backend'])
  t.equal(interpolated.networks.backend?.internal, true, 'redis has no route out')
  t.match(redis.healthcheck?.test.join(' '), /redis-cli ping/)
})

test('the proxy gets only variables the service reads, and keeps its port', async (t) => {
  const known = new Set<string>(CONFIG_VARIABLES)
  for (const name of Object.keys(proxy.environment ?? {})) t.ok(known.has(name), `${name} is a configuration variable`)
  t.notOk('PORT' in (proxy.environment ?? {}), 'the balancer, EXPOSE and the healthcheck expect 3000')
  t.notOk('HOST' in (proxy.environment ?? {}))
})

test('the proxy is health-checked with the image script, no curl', async (t) => {
  t.same(proxy.healthcheck?.test, ['CMD', 'node', 'scripts/healthcheck.ts'])
  t.equal(proxy.stop_grace_period, '20s', 'longer than the default 15 s drain deadline')
})

test('the demo profile adds the simulator and its own proxy, nothing else', async (t) => {
  const demo = services.filter(([, s]) => s.profiles?.includes('demo')).map(([name]) => name)
  t.same(demo.sort(), ['demo-proxy', 'simulator'])
  const simulator = interpolated.services.simulator!
  t.equal(simulator.build?.target, 'simulator')
  t.notOk(simulator.ports, 'the simulator is not published')

  const demoProxy = interpolated.services['demo-proxy']!
  t.equal(demoProxy.environment?.HOTTASK_BASE_URL, 'http://simulator:4010')
  t.equal(demoProxy.environment?.TRUST_PROXY, '', 'published directly: trusts no forwarding header')
  t.same(demoProxy.secrets, [{ source: 'demo_api_key', target: 'hottask_api_key' }, { source: 'demo_session_token_secret', target: 'session_token_secret' }])
  t.ok(Buffer.byteLength(read(interpolated.secrets.demo_session_token_secret?.file!).trim()) >= 32, 'the demo secret is long enough to start')
  t.same(demoProxy.depends_on?.simulator, { condition: 'service_healthy' })
  t.match(demoProxy.ports, [/^127\.0\.0\.1:/], 'published on loopback only')
  const demoKeyFile = interpolated.secrets.demo_api_key?.file!
  t.equal(read(demoKeyFile).trim(), DEFAULT_SIM_KEY, "the demo key is the simulator's public one")
  for (const [name, service] of inDefaultProfile) {
    t.notOk(Object.keys(service.depends_on ?? {}).some((dep) => demo.includes(dep)), `${name} does not need the demo`)
  }
})

test('the observability profile adds Prometheus and Grafana, provisioned read-only from deploy/', async (t) => {
  const observability = services.filter(([, s]) => s.profiles?.includes('observability')).map(([name]) => name)
  t.same(observability.sort(), ['grafana', 'prometheus'])
  for (const [name, service] of inDefaultProfile) {
    t.notOk(Object.keys(service.depends_on ?? {}).some((dep) => observability.includes(dep)), `${name} does not need the observability profile`)
  }

  const prometheus = interpolated.services.prometheus!
  t.ok(prometheus.volumes?.includes('./deploy/prometheus:/etc/prometheus:ro'), 'rules and configuration read-only')
  t.ok(prometheus.command?.includes('--config.file=/etc/prometheus/prometheus.yml'))
  t.ok(prometheus.networks?.includes('backend'), 'reaches the metrics ports, which nothing publishes')
  t.match(prometheus.ports, [/^127\.0\.0\.1:/], 'published on loopback only')
  const scrape = parse(read('deploy/prometheus/prometheus.yml')) as { rule_files: string[], scrape_configs: Array<{ job_name: string, dns_sd_configs: Array<{ names: string[], port: number }> }> }
  t.same(scrape.rule_files, ['alerts.yml'], 'evaluates the tested alerts')
  const job = scrape.scrape_configs.find((c) => c.job_name === 'hottask-proxy')
  t.ok(job, 'the job the HottaskProxyDown alert names')
  const sd = job?.dns_sd_configs[0]
  t.same(sd?.names, ['proxy'], 'every replica of the proxy, by Docker DNS')
  t.equal(String(sd?.port), proxy.environment?.METRICS_PORT, 'the metrics port compose fixes for the proxy')
  // regression: the demo's deliberate failures were scraped under the production job and fed its alerts.
  const demoJob = scrape.scrape_configs.find((c) => c.job_name === 'hottask-proxy-demo')
  t.same(demoJob?.dns_sd_configs[0]?.names, ['demo-proxy'], 'the demo proxy has a job of its own')
  t.notOk(scrape.scrape_configs.some((c) => c.job_name !== 'hottask-proxy-demo' && c.dns_sd_configs.some((d) => d.names.includes('demo-proxy'))), 'and only that one')
  t.equal(String(demoJob?.dns_sd_configs[0]?.port), interpolated.services['demo-proxy']!.environment?.METRICS_PORT, 'the metrics port compose fixes for the demo proxy')

  const grafana = interpolated.services.grafana!
  t.ok(grafana.volumes?.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'))
  t.ok(grafana.volumes?.includes('./deploy/grafana/hottask-proxy.json:/etc/grafana/dashboards/hottask-proxy.json:ro'))
  t.match(grafana.ports, [/^127\.0\.0\.1:/], 'published on loopback only')
  t.same(grafana.depends_on?.prometheus, { condition: 'service_healthy' })
  t.equal(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer', 'anonymous visitors only view')
  const provider = parse(read('deploy/grafana/provisioning/dashboards/hottask-proxy.yml')) as { providers: Array<{ options: { path: string } }> }
  t.equal(provider.providers[0]?.options.path, '/etc/grafana/dashboards', 'the provider loads the mounted dashboard')
  const datasource = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string, url: string }> }
  const dashboard = JSON.parse(read('deploy/grafana/hottask-proxy.json')) as { panels: Array<{ datasource?: { uid: string } }> }
  const uids = new Set(dashboard.panels.flatMap((panel) => panel.datasource === undefined ? [] : [panel.datasource.uid]))
  t.same([...uids], [datasource.datasources[0]?.uid], 'every panel uses the provisioned data source')
  t.equal(datasource.datasources[0]?.url, 'http://prometheus:9090')
})
