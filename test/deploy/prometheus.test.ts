// The dashboard and the alerts against a real Prometheus (Debian's prometheus binary): it
// scrapes a real proxy process every second and evaluates deploy/prometheus/alerts.yml,
// while traffic goes through the proxy to the simulator (successes and a few failure
// codes, whole and streamed messages). Then every PromQL expression of the dashboard and of
// the alerts must evaluate without error, the panels meant to show that traffic must show
// it, every rule must be healthy in Prometheus's own evaluation, the alert for the refused
// key must stay quiet for a foreign chatbot's 401 and be active once a key that served a
// chatbot is refused for it, and so must the Redis alert once Redis is stopped. Names and
// labels are thereby checked against what the service really exports, not against a parse
// of the JSON.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { request } from 'undici'
import { parse } from 'yaml'
import { startSimulator } from '../../simulator/server.ts'
import { startPrometheus } from '../helpers/prometheus.ts'
import type { PrometheusServer, QuerySample } from '../helpers/prometheus.ts'
import { startServer } from '../helpers/proxy-process.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { TEST_KEY, TEST_TOKEN_SECRET } from '../helpers/setup.ts'
import { until } from '../helpers/waiting.ts'

const root = new URL('../../', import.meta.url)
const RULES = fileURLToPath(new URL('deploy/prometheus/alerts.yml', root))
const JOB = 'hottask-proxy'

interface Target { expr: string, refId: string, legendFormat?: string }
interface Panel { type: string, title: string, targets?: Target[] }
const dashboard = JSON.parse(readFileSync(new URL('deploy/grafana/hottask-proxy.json', root), 'utf8')) as { panels: Panel[] }
const panels = dashboard.panels.filter((panel) => panel.type !== 'row')
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string }> }> }).groups.flatMap((group) => group.rules)

// Grafana's $__rate_interval is at least four scrape intervals and grows with the time
// range; one minute holds every scrape of this test. It is the dashboard's only variable.
const RATE_INTERVAL = '1m'
const substitute = (expr: string): string => expr.replaceAll('$__rate_interval', RATE_INTERVAL)

// What the driven traffic must show, by panel: a label value whose series is above zero
// (a rate: the counter grew between two scrapes), or only a number (a quantile, a gauge).
const SHOWS: Record<string, Array<{ label?: string, value?: string, legend?: string }>> = {
  'Requests by status code': ['201', '200', '400', '404', '502'].map((value) => ({ label: 'status_code', value })),
  'Error ratio by class': [{ legend: '5xx' }, { legend: '4xx' }],
  'Latency of POST /sessions': [{ legend: 'p50' }, { legend: 'p90' }, { legend: 'p99' }],
  'Requests by route': ['/sessions', '/sessions/:sessionId/messages', 'not_found'].map((value) => ({ label: 'route', value })),
  'Upstream attempts by outcome': ['success', 'UPSTREAM_AUTH_FAILED', 'UPSTREAM_ERROR', 'CHATBOT_NOT_FOUND'].map((value) => ({ label: 'outcome', value })),
  'Upstream attempt latency': [{ legend: 'p50' }, { legend: 'p99' }],
  'Instances by circuit state': [{ label: 'state', value: 'closed' }],
  'Messages by outcome': [{ label: 'outcome', value: 'answered' }, { label: 'outcome', value: 'streamed' }],
  'Streams by outcome': [{ label: 'end', value: 'completed' }],
  "Time to a reply's first byte": [{ legend: 'p50' }, { legend: 'p99' }],
  'Readiness checks': [{ label: 'check', value: 'redis' }, { label: 'check', value: 'shutdown' }]
}

/** Scrapes of the proxy that began after `since` (ms), from the raw samples of `up`. */
async function scrapesSince (prometheus: PrometheusServer, since: number): Promise<number> {
  const answer = await prometheus.api<{ data: { result: Array<{ values: Array<[number, string]> }> } }>('query', { query: `up{job="${JOB}"}[1m]` })
  return (answer.data.result[0]?.values ?? []).filter(([at, up]) => at * 1000 > since && up === '1').length
}

async function waitForScrapes (prometheus: PrometheusServer, count: number): Promise<void> {
  const since = Date.now()
  await until(async () => await scrapesSince(prometheus, since) >= count, `${count} scrapes after the traffic`, 30000)
}

async function post (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.statusCode, text: await res.body.text() }
}

/** One round of traffic: successes, upstream failures, refusals, whole and streamed messages. Returns the statuses. */
async function drive (proxy: string): Promise<number[]> {
  const statuses: number[] = []
  const session = async (serialNumber: string): Promise<{ status: number, text: string }> => {
    const res = await post(`${proxy}/sessions`, { serialNumber })
    statuses.push(res.status)
    return res
  }
  for (let i = 0; i < 3; i++) await session('abc')
  await session('sim-http-500') // 502 UPSTREAM_ERROR
  await session('sim-http-401') // 502 UPSTREAM_AUTH_FAILED: the refused key
  await session('sim-code-404') // 404 CHATBOT_NOT_FOUND (a failure envelope of Code 404)
  statuses.push((await post(`${proxy}/sessions`, { serialNumber: 'abc', extra: true })).status) // 400
  const missing = await request(`${proxy}/no-such-path`)
  await missing.body.dump()
  statuses.push(missing.statusCode)
  const created = await session('abc')
  const sessionId = /"sessionId":(\d+)/.exec(created.text)![1]!
  const token = (JSON.parse(created.text) as { sessionToken: string }).sessionToken
  const url = `${proxy}/sessions/${sessionId}/messages`
  for (const stream of [false, true]) {
    const res = await post(url, { content: 'hello', stream }, { 'session-token': token })
    statuses.push(res.status)
  }
  return statuses
}

test('a real Prometheus evaluates every dashboard and alert expression against a real proxy', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  const redis = await startRedis(t)
  const proxy = await startServer({
    HOTTASK_API_KEY: TEST_KEY,
    HOTTASK_BASE_URL: upstream.url,
    REDIS_URL: redis.url,
    SESSION_TOKEN_SECRET: TEST_TOKEN_SECRET,
    METRICS_HOST: '127.0.0.1',
    // The failures driven here must not open the circuit, which would change what follows.
    CIRCUIT_FAILURE_THRESHOLD: '1000',
    CHATBOT_CIRCUIT_FAILURE_THRESHOLD: '1000'
  })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const metricsUrl = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*metrics server listening/.exec(proxy.output())?.[1]
  t.ok(metricsUrl, 'the metrics listener is announced')
  await until(async () => {
    const res = await request(`${proxy.url}/readyz`)
    return ((await res.body.json()) as { checks: Record<string, string> }).checks.redis === 'ok'
  }, 'the proxy is connected to Redis')

  const prometheus = await startPrometheus(t, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    `rule_files: [${JSON.stringify(RULES)}]`,
    'scrape_configs:',
    `  - job_name: ${JOB}`,
    `    static_configs: [{ targets: ["${new URL(metricsUrl!).host}"] }]`
  ].join('\n'))

  // A scrape before the traffic, one between its two rounds and two after: every counter
  // the traffic moves grows between two scrapes, so rates are above zero, not just present.
  await waitForScrapes(prometheus, 1)
  const first = await drive(proxy.url)
  await waitForScrapes(prometheus, 1)
  const second = await drive(proxy.url)
  t.same(first, [201, 201, 201, 502, 502, 404, 400, 404, 201, 200, 200], 'the traffic is what the panels expect')
  t.same(second, first, 'twice')
  await waitForScrapes(prometheus, 2)

  t.test('every dashboard expression evaluates, and returns data', async (t) => {
    let count = 0
    for (const panel of panels) {
      t.ok(panel.targets !== undefined && panel.targets.length > 0, `${panel.title}: has queries`)
      for (const target of panel.targets ?? []) {
        count++
        const expr = substitute(target.expr)
        t.notMatch(expr, /\$/, `${panel.title} ${target.refId}: no Grafana variable left`)
        const answer = await prometheus.query(expr)
        t.equal(answer.status, 'success', `${panel.title} ${target.refId}: ${answer.error ?? 'evaluates'}`)
        t.ok((answer.data?.result.length ?? 0) > 0, `${panel.title} ${target.refId}: returns data`)
      }
    }
    t.ok(count >= 30, `${count} expressions`)
  })

  t.test('the panels meant to show the driven traffic show it', async (t) => {
    for (const [title, expected] of Object.entries(SHOWS)) {
      const panel = panels.find((each) => each.title === title)
      t.ok(panel, `${title}: a panel of the dashboard`)
      for (const want of expected) {
        const targets = (panel?.targets ?? []).filter((target) => want.legend === undefined || target.legendFormat === want.legend)
        t.ok(targets.length > 0, `${title}: ${want.legend ?? 'a query'}`)
        const samples: QuerySample[] = []
        for (const target of targets) samples.push(...((await prometheus.query(substitute(target.expr))).data?.result ?? []) as QuerySample[])
        const matching = samples.filter((sample) => want.label === undefined || sample.metric[want.label] === want.value)
        const values = matching.map((sample) => Number(sample.value[1]))
        t.ok(values.some((value) => Number.isFinite(value) && value > 0), `${title}: ${want.label === undefined ? want.legend : `${want.label}="${want.value}"`} above zero (${values.join(', ') || 'no series'})`)
      }
    }
  })

  t.test('every alert expression evaluates without error', async (t) => {
    for (const rule of rules) {
      const answer = await prometheus.query(rule.expr)
      t.equal(answer.status, 'success', `${rule.alert}: ${answer.error ?? 'evaluates'}`)
    }
  })

  t.test('Prometheus loads alerts.yml and every rule is healthy in its own evaluation', async (t) => {
    interface RuleState { name: string, health: string, lastError?: string, lastEvaluation: string }
    const loaded = async (): Promise<RuleState[]> => (await prometheus.api<{ data: { groups: Array<{ rules: RuleState[] }> } }>('rules')).data.groups.flatMap((group) => group.rules)
    // Evaluated at least once since the traffic ended (a rule never evaluated reports "unknown").
    const since = Date.now()
    await until(async () => (await loaded()).every((rule) => Date.parse(rule.lastEvaluation) > since), 'every rule evaluated after the traffic', 30000)
    const states = await loaded()
    t.same(states.map((rule) => rule.name).sort(), rules.map((rule) => rule.alert).sort(), 'every alert of the file')
    for (const rule of states) t.same({ health: rule.health, lastError: rule.lastError ?? '' }, { health: 'ok', lastError: '' }, rule.name)
  })

  t.test('the refused key makes its alert active, and Redis being up keeps its alert quiet', async (t) => {
    interface Active { labels: Record<string, string>, state: string }
    const active = async (): Promise<Active[]> => (await prometheus.api<{ data: { alerts: Active[] } }>('alerts')).data.alerts
    // attack: the traffic's 401 was for a chatbot the key never served, which any caller can send.
    t.notOk((await active()).some((alert) => alert.labels.alertname === 'HottaskProxyUpstreamAuthFailing'), 'a foreign chatbot\'s 401 pages no one')
    // Now the key is revoked: refused for abc, which it served.
    upstream.acceptKeys(['a-key-the-proxy-does-not-have-0000'])
    t.equal((await post(`${proxy.url}/sessions`, { serialNumber: 'abc' })).status, 502)
    await until(async () => (await active()).some((alert) => alert.labels.alertname === 'HottaskProxyUpstreamAuthFailing'), 'the auth alert is active', 30000)
    const auth = (await active()).find((alert) => alert.labels.alertname === 'HottaskProxyUpstreamAuthFailing')
    t.match(auth, { labels: { job: JOB, severity: 'critical' }, state: /^(pending|firing)$/ })
    const names = (await active()).map((alert) => alert.labels.alertname)
    t.notOk(names.includes('HottaskProxyRedisDown'), 'Redis is up')
    t.notOk(names.includes('HottaskProxyDown'), 'the target is up')
    t.notOk(names.includes('HottaskProxyCircuitOpen'), 'the circuit stayed closed')
  })

  // Last, as it takes Redis away: the readiness gauge carries the outage to its alert.
  t.test('Redis going down makes the Redis alert active, through the readiness gauge', async (t) => {
    await redis.stop()
    const alerts = async (): Promise<Array<{ labels: Record<string, string>, state: string }>> =>
      (await prometheus.api<{ data: { alerts: Array<{ labels: Record<string, string>, state: string }> } }>('alerts')).data.alerts
    await until(async () => (await alerts()).some((alert) => alert.labels.alertname === 'HottaskProxyRedisDown'), 'the Redis alert is active', 30000)
    const down = (await alerts()).find((alert) => alert.labels.alertname === 'HottaskProxyRedisDown')
    t.match(down, { labels: { job: JOB, check: 'redis', severity: 'critical' }, state: 'pending' }, 'pending for its minute')
    const readiness = await prometheus.query('min by (check) (hottask_proxy_readiness_check)')
    t.same(Object.fromEntries((readiness.data?.result as QuerySample[]).map((sample) => [sample.metric.check, sample.value[1]])), { redis: '0', shutdown: '1' })
  })
})
