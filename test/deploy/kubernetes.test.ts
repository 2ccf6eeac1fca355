// deploy/kubernetes/, checked without a cluster (issue 16): `kubectl kustomize` renders both
// overlays, and production with the service-monitor component, offline; every rendered
// object is valid against the Kubernetes API schemas (and the Prometheus operator's, for
// the ServiceMonitor); and the issue's rules are asserted on the rendered objects, which
// is what a cluster would receive, not on the files as written.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec'
import type { IDeploymentSpec } from 'kubernetes-models/apps/v1/DeploymentSpec'
import type { IHorizontalPodAutoscalerSpec } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec'
import type { IIngressSpec } from 'kubernetes-models/networking.k8s.io/v1/IngressSpec'
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec'
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer'
import type { IPodDisruptionBudgetSpec } from 'kubernetes-models/policy/v1/PodDisruptionBudgetSpec'
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import { test } from 'tap'
import type { Test } from 'tap'
import { parse } from 'yaml'
import packageJson from '../../package.json' with { type: 'json' }
import { ConfigError, loadConfig } from '../../src/config/config.ts'
import type { Config } from '../../src/config/config.ts'
import { CONFIG_VARIABLES, VARIABLES } from '../../src/config/schema.ts'
import type { VariableName } from '../../src/config/schema.ts'
import { README } from '../helpers/readme.ts'
import { quantity, render, renderComposed, requireKubectl, selects, unknownFields, validateObject } from '../helpers/kubernetes.ts'
import type { KubeObject } from '../helpers/kubernetes.ts'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

const NAMESPACE = 'hottask-proxy'
const PROXY = { 'app.kubernetes.io/name': 'hottask-proxy', 'app.kubernetes.io/component': 'proxy' }

// Rendered once; a missing or old kubectl fails here with how to install it.
requireKubectl()
const single = render('overlays/single')
const production = render('overlays/production')
const monitored = renderComposed(['overlays/production'], ['components/service-monitor'], NAMESPACE)
const overlays = { single, production } as const

const kinds = (objects: KubeObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()
const find = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind}/${name} rendered`)
  return found
}
const specOf = <T>(object: KubeObject): T => object.spec as T

function proxyDeployment (objects: KubeObject[]) {
  const deployment = specOf<IDeploymentSpec>(find(objects, 'Deployment', 'hottask-proxy'))
  const pod = deployment.template.spec!
  const container = pod.containers.find((c) => c.name === 'proxy')!
  return { deployment, pod, container, podLabels: deployment.template.metadata?.labels ?? {} }
}

const envOf = (container: IContainer): Record<string, string> =>
  Object.fromEntries((container.env ?? []).map((e: IEnvVar) => [e.name, e.value ?? '']))

/** What the service runs with: the Deployment's value, else the schema's default. */
function effective (container: IContainer, name: VariableName): number {
  const value = envOf(container)[name]
  if (value !== undefined) return Number(value)
  return (VARIABLES[name].schema as { default: number }).default
}

/** A container port by name or number, as its number. */
function containerPort (container: IContainer, port: string | number): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort
}

/** The variables whose secret may come from a file: FOO for every FOO_FILE. */
const FILE_VARIABLES = CONFIG_VARIABLES.filter((name) => name.endsWith('_FILE'))
const SECRET_VARIABLES = FILE_VARIABLES.map((name) => name.slice(0, -'_FILE'.length))
// Files whose mere presence turns a feature on, so the operator adds them with a patch
// (docs/deployment.md): a visitor-token key (one of three sources; both files at once are
// refused), internal clients' tokens (a file that is empty stops the start), and a private
// CA for Redis (only with a rediss:// URL).
const CHOSEN_BY_PATCH = ['VISITOR_JWT_SECRET_FILE', 'VISITOR_JWT_PUBLIC_KEY_FILE', 'CLIENT_TOKENS_FILE', 'REDIS_TLS_CA_FILE']

test('both overlays, and production with the service-monitor component, render offline', async (t) => {
  t.same(kinds(single), [
    'Deployment/hottask-proxy', 'Namespace/hottask-proxy', 'NetworkPolicy/hottask-proxy', 'Service/hottask-proxy'
  ])
  t.same(kinds(production), [
    'Deployment/hottask-proxy', 'Deployment/hottask-proxy-redis',
    'HorizontalPodAutoscaler/hottask-proxy',
    'Ingress/hottask-proxy', 'Ingress/hottask-proxy-messages',
    'Namespace/hottask-proxy',
    'NetworkPolicy/hottask-proxy', 'NetworkPolicy/hottask-proxy-redis', 'NetworkPolicy/hottask-proxy-to-redis',
    'PodDisruptionBudget/hottask-proxy',
    'Service/hottask-proxy', 'Service/hottask-proxy-redis'
  ])
  t.same(kinds(monitored), [...kinds(production), 'Service/hottask-proxy-metrics', 'ServiceMonitor/hottask-proxy'].sort())
})

test('every rendered object is valid against the Kubernetes API schemas', async (t) => {
  for (const [label, objects] of [['single', single], ['production', production], ['production with the ServiceMonitor', monitored]] as const) {
    for (const object of objects) {
      // Schema paths and messages only, never values.
      await t.resolves(validateObject(object), `${label}: ${object.kind}/${object.metadata.name}`)
    }
  }
  // Production's objects are all in `monitored`; single's Deployment differs from theirs.
  t.same(unknownFields([...single, ...monitored]), [], 'no field the schemas do not know, at any depth')
})

test('the schema validation refuses wrong objects, and kinds it has no schema for', async (t) => {
  const deployment = structuredClone(find(production, 'Deployment', 'hottask-proxy'))
  const spec = deployment.spec as { replicas: unknown, template: { spec: { containers: Array<Record<string, unknown>> } } }
  spec.replicas = 'three'
  delete spec.template.spec.containers[0]!.name
  await t.rejects(validateObject(deployment), /spec\/replicas must be integer.*containers\/0 must have required property name/)

  const monitor = structuredClone(find(monitored, 'ServiceMonitor', 'hottask-proxy'))
  ;(monitor.spec as { endpoints: unknown }).endpoints = 'metrics'
  await t.rejects(validateObject(monitor), /spec\/endpoints must be array/, "the Prometheus operator's schema is applied too")

  const probe = structuredClone(find(production, 'Deployment', 'hottask-proxy'))
  ;(probe.spec as { template: { spec: IPodSpec } }).template.spec.containers[0]!.readinessProbe!.httpGet!.port = { name: 'http' } as unknown as string
  await t.rejects(validateObject(probe), /readinessProbe\/httpGet\/port/)

  await t.rejects(validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), { message: 'no schema for example.com/v1 Widget' })

  // A misspelt field passes the validators (the schemas leave objects open); not this check.
  const misspelt = structuredClone(find(production, 'Deployment', 'hottask-proxy'))
  const container = (misspelt.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec.containers[0]!
  container.readinesProbe = container.readinessProbe
  delete container.readinessProbe
  const policy = structuredClone(find(production, 'NetworkPolicy', 'hottask-proxy'))
  ;(policy.spec as { egress: Array<Record<string, unknown>> }).egress[0]!.too = []
  await t.resolves(validateObject(misspelt), 'the validators let an unknown field through')
  t.match(unknownFields([misspelt, policy]), [
    /^Deployment\/hottask-proxy: .*'"readinesProbe"' does not exist in type 'IContainer'/,
    /^NetworkPolicy\/hottask-proxy: .*'"too"' does not exist in type 'INetworkPolicyEgressRule'/
  ])
})

test('every object lands in one namespace whose pods must meet the restricted profile', async (t) => {
  for (const object of monitored) {
    if (object.kind === 'Namespace') continue
    t.equal(object.metadata.namespace, NAMESPACE, `${object.kind}/${object.metadata.name}`)
  }
  const namespace = find(production, 'Namespace', NAMESPACE)
  t.equal(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted')
})

test('no Secret is rendered: its values are created from local files, never committed', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    t.same(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name), [], name)
  }
})

test('secrets reach the proxy only as files of a mounted Secret, named by their *_FILE variables', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { pod, container } = proxyDeployment(objects)
    const env = envOf(container)
    t.notOk(container.envFrom, `${name}: no envFrom`)
    t.same((container.env ?? []).filter((e) => e.valueFrom !== undefined).map((e) => e.name), [], `${name}: no valueFrom (secretKeyRef or any other)`)
    for (const secret of [...SECRET_VARIABLES, 'CLIENT_TOKENS']) t.notOk(secret in env, `${name}: ${secret} is not an environment value`)

    const mount = container.volumeMounts?.find((m) => m.name === 'secrets')
    const volume = pod.volumes?.find((v) => v.name === 'secrets')
    t.equal(volume?.secret?.secretName, 'hottask-proxy', `${name}: the Secret is a volume`)
    t.equal(volume?.secret?.defaultMode, 0o440, `${name}: readable by the owner and the service's group only`)
    t.equal(volume?.secret?.optional, undefined, `${name}: the pod waits for the Secret`)
    t.equal(mount?.readOnly, true)
    t.equal(mount?.subPath, undefined, `${name}: the whole directory, so updates arrive`)
    for (const variable of FILE_VARIABLES) {
      if (CHOSEN_BY_PATCH.includes(variable)) {
        t.notOk(variable in env, `${name}: ${variable} is left to a patch`)
        continue
      }
      t.match(env[variable], new RegExp(`^${mount?.mountPath}/[a-z-]+$`), `${name}: ${variable} names a file of the Secret`)
    }
    for (const required of ['HOTTASK_API_KEY_FILE', 'HOTTASK_API_KEY_NEXT_FILE', 'SESSION_TOKEN_SECRET_FILE']) t.ok(env[required], `${name}: ${required}`)
  }
})

/** The Secret's keys the README's `kubectl create secret` makes, and the overlay it applies. */
function readmeCommands () {
  const section = README.slice(README.indexOf('## Kubernetes'))
  const block = section.slice(section.indexOf('```sh') + 5, section.indexOf('```', section.indexOf('```sh') + 5)).replace(/\\\n/g, ' ')
  const commands = block.split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter((line) => line !== '')
  return { commands, keys: [...block.matchAll(/--from-file=([a-z-]+)=/g)].map((m) => m[1]!) }
}

test("the README's two commands apply an overlay and create the Secret the pods mount", async (t) => {
  const { commands, keys } = readmeCommands()
  t.equal(commands.length, 2, 'two commands')
  t.equal(commands[0], 'kubectl apply -k deploy/kubernetes/overlays/production')
  t.match(commands[1], new RegExp(`^kubectl -n ${NAMESPACE} create secret generic hottask-proxy `))
  const { container } = proxyDeployment(production)
  const files = ['HOTTASK_API_KEY_FILE', 'HOTTASK_API_KEY_NEXT_FILE', 'SESSION_TOKEN_SECRET_FILE', 'SESSION_TOKEN_SECRET_PREVIOUS_FILE']
    .map((variable) => envOf(container)[variable]!.split('/').at(-1))
  t.same(keys.sort(), files.sort(), 'every file the proxy reads at start, and no other')
})

/**
 * The service's own configuration of a rendered container, its Secret's files written to a
 * temporary directory that stands in for the mount: the README's keys with test values of
 * the right shapes, and any extra files given.
 */
function configOf (t: Test, container: IContainer, extra: Record<string, string> = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-secret-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const key of readmeCommands().keys) writeFileSync(join(dir, key), key.startsWith('hottask-api-key') ? 'test-key-0123456789\n' : `${'s'.repeat(48)}\n`)
  for (const [key, text] of Object.entries(extra)) writeFileSync(join(dir, key), text)
  const mountPath = container.volumeMounts!.find((m) => m.name === 'secrets')!.mountPath
  const env = Object.fromEntries(Object.entries(envOf(container)).map(([key, value]) => [key, value.replace(mountPath, dir)]))
  return loadConfig(env, { openFilesLimit: 1048576 })
}

test("the Deployment's environment is one the service accepts, with the README's Secret", async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { container } = proxyDeployment(objects)
    let config
    try {
      config = configOf(t, container)
    } catch (error) {
      t.fail(`${name}: ${(error as ConfigError).message}`)
      continue
    }
    t.equal(config.trustProxy, 1, `${name}: one trusted hop`)
    t.equal(config.shutdown.drainDelayMs, effective(container, 'SHUTDOWN_DRAIN_DELAY_MS'))
    t.equal(config.redisUrl === undefined, name === 'single', `${name}: Redis only in production`)
    t.equal(config.visitors, undefined, `${name}: no visitor tokens until a patch chooses a key source`)
  }
})

test("docs/deployment.md's visitor-token patch turns visitor tokens on with a key file of the Secret", async (t) => {
  const docs = read('docs/deployment.md')
  const section = docs.slice(docs.indexOf('**Visitor tokens**'))
  // The example sits in a list item: two spaces deeper than a file would be.
  const patch = /```yaml\n([\s\S]*?)```/.exec(section)![1]!.split('\n').map((line) => line.slice(2)).join('\n')
  const { container } = proxyDeployment(renderComposed(['overlays/production'], [], NAMESPACE, [patch]))
  t.match(envOf(container).VISITOR_JWT_PUBLIC_KEY_FILE, /^\/run\/secrets\/hottask-proxy\/visitor-jwt-public-key$/)
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const config = configOf(t, container, { 'visitor-jwt-public-key': publicKey.export({ type: 'spki', format: 'pem' }) as string })
  t.equal(config.visitors?.keys.kind, 'public-key')
  t.equal(config.visitors?.issuer, envOf(container).VISITOR_JWT_ISSUER)
})

test('the proxy runs the image as built: its version, its command and node flags, its user', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { container, pod } = proxyDeployment(objects)
    t.equal(container.image, `hottask-proxy:${packageJson.version}`, name)
    t.notOk(container.command, `${name}: the image's CMD, with the production node flags`)
    t.notOk(container.args, name)
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(read('Dockerfile').split(/^FROM .* AS runtime$/m)[1]!)!.slice(1).map(Number)
    t.equal(pod.securityContext?.runAsUser, uid, `${name}: the image's user`)
    t.equal(pod.securityContext?.runAsGroup, gid)
    t.equal(pod.securityContext?.fsGroup, gid, `${name}: which may read the Secret's files`)
    t.equal(pod.automountServiceAccountToken, false, `${name}: no API token`)
  }
})

test('every container is non-root, read-only, unprivileged, without capabilities, under RuntimeDefault seccomp', async (t) => {
  for (const object of production.filter((o) => o.kind === 'Deployment')) {
    const pod = specOf<IDeploymentSpec>(object).template.spec!
    t.equal(pod.securityContext?.runAsNonRoot, true, object.metadata.name)
    t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', object.metadata.name)
    t.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${object.metadata.name}: a numeric non-root uid`)
    for (const container of pod.containers) {
      const context = container.securityContext
      const label = `${object.metadata.name}/${container.name}`
      t.equal(context?.runAsNonRoot, true, label)
      t.equal(context?.allowPrivilegeEscalation, false, label)
      t.equal(context?.readOnlyRootFilesystem, true, label)
      t.same(context?.capabilities?.drop, ['ALL'], label)
      t.notOk(context?.capabilities?.add, `${label}: nothing added back`)
      t.notOk(context?.privileged, label)
      t.equal((context?.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, 'RuntimeDefault', label)
    }
  }
})

test('probes: readiness on /readyz, liveness and startup on /healthz, all on the HTTP port', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { container } = proxyDeployment(objects)
    const http = effective(container, 'PORT')
    const metrics = effective(container, 'METRICS_PORT')
    t.equal(containerPort(container, 'http'), http, `${name}: the http port is PORT`)
    t.equal(containerPort(container, 'metrics'), metrics, `${name}: the metrics port is METRICS_PORT`)
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz'], ['startupProbe', '/healthz']] as const) {
      const get = container[probe]?.httpGet
      t.equal(get?.path, path, `${name}: ${probe} path`)
      t.equal(containerPort(container, get?.port ?? -1), http, `${name}: ${probe} on the HTTP port, not ${metrics}`)
    }
  }
})

test('the grace period outlasts the drain delay plus the shutdown timeout the pods run with', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { pod, container } = proxyDeployment(objects)
    const drain = effective(container, 'SHUTDOWN_DRAIN_DELAY_MS')
    const timeout = effective(container, 'SHUTDOWN_TIMEOUT_MS')
    t.ok(drain > 0, `${name}: a drain delay (the default, ${String(VARIABLES.SHUTDOWN_DRAIN_DELAY_MS.schema.default)} ms, would close the listener before endpoints are removed)`)
    t.ok(pod.terminationGracePeriodSeconds! * 1000 > drain + timeout, `${name}: ${pod.terminationGracePeriodSeconds} s > ${drain} + ${timeout} ms`)
  }
  // With the drain and shutdown variables left to their defaults, the same period still fits.
  const { pod } = proxyDeployment(production)
  t.ok(pod.terminationGracePeriodSeconds! * 1000 > VARIABLES.SHUTDOWN_DRAIN_DELAY_MS.schema.default + VARIABLES.SHUTDOWN_TIMEOUT_MS.schema.default)
})

/** hottask-proxy's peak RSS in the slow-upstream scenario of docs/performance.md, in MiB. */
function slowUpstreamPeakRss (): number {
  const text = read('docs/performance.md')
  const lines = text.slice(text.indexOf('**3. Slow upstream')).split('\n').filter((line) => line.startsWith('|'))
  const cells = (line: string): string[] => line.slice(1, -1).split('|').map((cell) => cell.trim())
  const column = cells(lines[0]!).indexOf('peak RSS MB')
  const row = lines.find((line) => cells(line)[0] === 'hottask-proxy')!
  return Number(cells(row)[column])
}

test("resources are requested and limited, the proxy's memory from the benchmark's peak RSS plus head-room", async (t) => {
  const peak = slowUpstreamPeakRss()
  t.ok(peak > 100 && peak < 1000, `the benchmark's figure was read (${peak} MiB)`)
  for (const object of production.filter((o) => o.kind === 'Deployment')) {
    for (const container of specOf<IDeploymentSpec>(object).template.spec!.containers) {
      const { requests, limits } = container.resources ?? {}
      for (const resource of ['cpu', 'memory']) {
        t.ok(requests?.[resource], `${object.metadata.name}: ${resource} requested`)
        t.ok(quantity(limits?.[resource] ?? 0) >= quantity(requests?.[resource] ?? 1), `${object.metadata.name}: ${resource} limited at or above the request`)
      }
    }
  }
  const { container } = proxyDeployment(production)
  const memory = quantity(container.resources!.requests!.memory!)
  t.ok(memory >= peak * 2 ** 20 * 1.25, `${memory / 2 ** 20} MiB requested: ${peak} MiB and at least 25 % head-room`)
  t.ok(memory <= peak * 2 ** 20 * 2, 'and not a multiple of what it needs')
})

test('production: three replicas or more, spread over nodes, autoscaled on CPU, one disrupted at a time', async (t) => {
  const { deployment, pod, podLabels } = proxyDeployment(production)
  t.equal(deployment.replicas, undefined, 'left to the autoscaler: an apply would put a count back, undoing a scale-up')
  const redisLabels = specOf<IDeploymentSpec>(find(production, 'Deployment', 'hottask-proxy-redis')).template.metadata?.labels

  const hpa = specOf<IHorizontalPodAutoscalerSpec>(find(production, 'HorizontalPodAutoscaler', 'hottask-proxy'))
  t.same(hpa.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hottask-proxy' })
  t.ok(hpa.minReplicas! >= 3, 'at least 3')
  t.ok(hpa.maxReplicas > hpa.minReplicas!)
  t.same(hpa.metrics?.map((m) => [m.type, m.resource?.name, m.resource?.target.type]), [['Resource', 'cpu', 'Utilization']])

  const pdb = specOf<IPodDisruptionBudgetSpec>(find(production, 'PodDisruptionBudget', 'hottask-proxy'))
  t.ok(pdb.maxUnavailable === 1 || pdb.minAvailable !== undefined, 'maxUnavailable: 1 or minAvailable')
  t.ok(selects(pdb.selector?.matchLabels, podLabels), "selects the Deployment's pods")
  t.notOk(selects(pdb.selector?.matchLabels, redisLabels), 'and not Redis')
  t.ok(selects(deployment.selector.matchLabels, podLabels))

  const spread = pod.topologySpreadConstraints ?? []
  const byNode = spread.find((c) => c.topologyKey === 'kubernetes.io/hostname')
  t.ok(byNode, 'across nodes')
  t.equal(byNode?.maxSkew, 1)
  t.ok(selects(byNode?.labelSelector?.matchLabels, podLabels), "counting the Deployment's pods")
  t.equal(deployment.strategy?.rollingUpdate?.maxUnavailable, 0, 'a rollout never lowers capacity')
})

test('single: one replica, no Redis, no autoscaler, budget or Ingress', async (t) => {
  const { deployment, container } = proxyDeployment(single)
  t.equal(deployment.replicas, 1)
  t.notOk('REDIS_URL' in envOf(container))
  t.same(single.filter((o) => ['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress'].includes(o.kind) || o.metadata.name.includes('redis')), [])
})

test("the Service targets the container's HTTP port and only the proxy's pods", async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { container, podLabels } = proxyDeployment(objects)
    const service = specOf<IServiceSpec>(find(objects, 'Service', 'hottask-proxy'))
    t.ok(selects(service.selector, podLabels), name)
    t.equal(service.ports?.length, 1, `${name}: one port, not the metrics port`)
    t.equal(containerPort(container, service.ports![0]!.targetPort!), effective(container, 'PORT'), `${name}: the HTTP port`)
  }
  const redisLabels = specOf<IDeploymentSpec>(find(production, 'Deployment', 'hottask-proxy-redis')).template.metadata?.labels
  t.notOk(selects(specOf<IServiceSpec>(find(production, 'Service', 'hottask-proxy')).selector, redisLabels))
})

const peerSelects = (peer: INetworkPolicyPeer, namespace: string, labels: Record<string, string>): boolean =>
  selects(peer.namespaceSelector?.matchLabels, { 'kubernetes.io/metadata.name': namespace }) && selects(peer.podSelector?.matchLabels, labels)

test('the NetworkPolicies admit the HTTP port from the ingress controller, metrics from the scraper, and egress to DNS, Redis, HTTPS and OTLP only', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    const { podLabels, container } = proxyDeployment(objects)
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => specOf<INetworkPolicySpec>(o))
    const mine = policies.filter((p) => selects(p.podSelector?.matchLabels, podLabels))
    t.ok(mine.some((p) => p.policyTypes?.includes('Ingress')) && mine.some((p) => p.policyTypes?.includes('Egress')), `${name}: both directions are closed by default`)

    const ingress = mine.flatMap((p) => p.ingress ?? [])
    const egress = mine.flatMap((p) => p.egress ?? [])
    // No rule that admits everything: every rule names its peers and its ports, and no peer is empty.
    for (const rule of [...ingress.map((r) => ({ peers: r.from, ports: r.ports })), ...egress.map((r) => ({ peers: r.to, ports: r.ports }))]) {
      t.ok((rule.ports ?? []).length > 0, `${name}: a rule names its ports`)
      t.ok((rule.peers ?? []).length > 0, `${name}: a rule names its peers`)
      for (const peer of rule.peers ?? []) {
        const selectsSome = Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length > 0 || Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0
        t.ok(selectsSome || (peer.ipBlock !== undefined && peer.ipBlock.except !== undefined), `${name}: a peer is narrowed`)
      }
    }

    const ingressByPort = new Map(ingress.flatMap((rule) => rule.ports!.map((p) => [containerPort(container, p.port!), rule.from!] as const)))
    t.same([...ingressByPort.keys()].sort(), [effective(container, 'PORT'), effective(container, 'METRICS_PORT')].sort(), `${name}: only the two ports`)
    t.ok(ingressByPort.get(effective(container, 'PORT'))!.every((peer) => peerSelects(peer, 'ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' })), `${name}: HTTP from the ingress controller only`)
    t.ok(ingressByPort.get(effective(container, 'METRICS_PORT'))!.every((peer) => peerSelects(peer, 'monitoring', { 'app.kubernetes.io/name': 'prometheus' })), `${name}: metrics from the scraper only`)

    const egressPorts = egress.flatMap((rule) => rule.ports!.map((p) => `${p.port}/${p.protocol}`)).sort()
    const expected = ['53/UDP', '53/TCP', '443/TCP', '4318/TCP', ...(name === 'production' ? ['6379/TCP'] : [])].sort()
    t.same(egressPorts, expected, `${name}: DNS, HTTPS, OTLP over HTTP${name === 'production' ? ', Redis' : ''}`)
    const https = egress.find((rule) => rule.ports!.some((p) => p.port === 443))!
    for (const peer of https.to!) t.ok(peer.ipBlock?.except?.some((cidr) => cidr === '10.0.0.0/8' || cidr === 'fc00::/7'), `${name}: HTTPS to the internet, not to private ranges`)
  }

  const redisPolicy = specOf<INetworkPolicySpec>(find(production, 'NetworkPolicy', 'hottask-proxy-redis'))
  t.same(redisPolicy.policyTypes, ['Ingress', 'Egress'])
  t.same(redisPolicy.egress ?? [], [], 'Redis reaches nothing')
  t.same(redisPolicy.ingress?.flatMap((r) => r.from), [{ podSelector: { matchLabels: PROXY } }], 'only the proxy reaches Redis')
})

test('TRUST_PROXY believes exactly the ingress hop that the NetworkPolicy leaves as the only way in', async (t) => {
  for (const [name, objects] of Object.entries(overlays)) {
    t.equal(envOf(proxyDeployment(objects).container).TRUST_PROXY, '1', name)
  }
  const ingresses = production.filter((o) => o.kind === 'Ingress').map((o) => specOf<IIngressSpec>(o))
  t.ok(ingresses.every((i) => i.ingressClassName === 'nginx'), 'every Ingress is served by ingress-nginx')
  // regression: the guide explained TRUST_PROXY=1 by the NetworkPolicy without saying that a
  // policy nothing enforces protects nothing.
  const guide = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8')
  const bullet = /^- \*\*`TRUST_PROXY=1`\*\*[^]*?(?=\n- |\n\n)/m.exec(guide)?.[0] ?? ''
  t.match(bullet, /CNI plugin that enforces/, 'the guide says TRUST_PROXY=1 needs NetworkPolicies enforced')
})

test('the Ingress streams messages unbuffered for as long as a stream may run, and sends the rest to the same Service', async (t) => {
  const { container } = proxyDeployment(production)
  const ingresses = production.filter((o) => o.kind === 'Ingress')
  const paths = ingresses.flatMap((o) => specOf<IIngressSpec>(o).rules!.flatMap((rule) => rule.http!.paths.map((path) => ({ ingress: o, path }))))
  // ingress-nginx with use-regex: a path is a regex anchored at the start, longest first.
  const route = (url: string) => paths.filter(({ path }) => new RegExp(`^${path.path}`).test(url)).sort((a, b) => b.path.path!.length - a.path.path!.length)[0]!

  const messages = route('/sessions/100001/messages')
  const annotations = messages.ingress.metadata.annotations ?? {}
  t.equal(messages.ingress.metadata.name, 'hottask-proxy-messages')
  t.equal(annotations['nginx.ingress.kubernetes.io/use-regex'], 'true')
  t.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off', 'streamed answers are not buffered')
  const readMs = Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000
  t.ok(readMs > effective(container, 'STREAM_MAX_MS'), `read timeout ${readMs} ms covers STREAM_MAX_MS`)
  t.ok(readMs > effective(container, 'MESSAGE_TIMEOUT_MS'), 'and MESSAGE_TIMEOUT_MS')

  for (const url of ['/sessions', '/sessions/100001', '/healthz', '/sessions/1/messages/extra']) {
    const other = route(url)
    t.equal(other.ingress.metadata.name, 'hottask-proxy', `${url} is not a message`)
    t.ok(Number(other.ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']) * 1000 > effective(container, 'UPSTREAM_TIMEOUT_MS'), 'the proxy answers a slow upstream before nginx gives up')
  }
  for (const { ingress, path } of paths) {
    t.same(path.backend.service, { name: 'hottask-proxy', port: { name: 'http' } }, `${ingress.metadata.name}: the proxy's Service`)
    t.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-next-upstream'], 'error timeout', `${ingress.metadata.name}: a POST is never replayed after it was sent`)
  }
})

test("Redis for production: compose's image, nothing persisted, named by REDIS_URL", async (t) => {
  const redis = specOf<IDeploymentSpec>(find(production, 'Deployment', 'hottask-proxy-redis'))
  const container = redis.template.spec!.containers[0]!
  const compose = parse(read('docker-compose.yml')) as { services: { redis: { image: string, command: string[] } } }
  t.equal(container.image, compose.services.redis.image, 'the same image as docker-compose.yml')
  t.same(container.args, compose.services.redis.command, 'and the same flags: no snapshots, no append-only file')
  t.same(redis.template.spec!.volumes?.map((v) => Object.keys(v).filter((k) => k !== 'name')), [['emptyDir']], 'no persistent volume')
  t.equal(redis.replicas, 1)

  const service = specOf<IServiceSpec>(find(production, 'Service', 'hottask-proxy-redis'))
  const url = new URL(envOf(proxyDeployment(production).container).REDIS_URL!)
  t.equal(url.hostname, 'hottask-proxy-redis', "the Service's name")
  t.equal(Number(url.port), service.ports![0]!.port)
  t.equal(url.password, '', 'no credential in the environment')
  t.ok(selects(service.selector, redis.template.metadata?.labels))
})

test("the ServiceMonitor scrapes the proxy pods' metrics port through a Service of its own", async (t) => {
  const monitor = find(monitored, 'ServiceMonitor', 'hottask-proxy') as unknown as IServiceMonitor
  const { container, podLabels } = proxyDeployment(monitored)
  const services = monitored.filter((o) => o.kind === 'Service')
  const scraped = services.filter((o) => selects(monitor.spec.selector.matchLabels, o.metadata.labels))
  t.same(scraped.map((o) => o.metadata.name), ['hottask-proxy-metrics'], 'it selects the metrics Service only')
  const service = specOf<IServiceSpec>(scraped[0]!)
  t.ok(selects(service.selector, podLabels))
  t.same(monitor.spec.endpoints?.map((e) => [e.port, e.path]), [['metrics', '/metrics']])
  const port = service.ports!.find((p) => p.name === 'metrics')!
  t.equal(containerPort(container, port.targetPort!), effective(container, 'METRICS_PORT'))
})

test('the ServiceMonitor names its scrape job hottask-proxy, the job HottaskProxyDown matches', async (t) => {
  const monitor = find(monitored, 'ServiceMonitor', 'hottask-proxy') as unknown as IServiceMonitor
  const service = find(monitored, 'Service', 'hottask-proxy-metrics')
  // The operator's job label: the Service's value of jobLabel, else the Service's name.
  const job = monitor.spec.jobLabel === undefined ? service.metadata.name : service.metadata.labels?.[monitor.spec.jobLabel] ?? service.metadata.name
  t.equal(job, 'hottask-proxy')
  const rulesText = readFileSync(new URL('../../deploy/prometheus/alerts.yml', import.meta.url), 'utf8')
  t.match(rulesText, `up{job="${job}"}`, 'the alert matches that job')
})
