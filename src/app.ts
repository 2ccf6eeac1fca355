// Builds the Fastify app from a typed Config and injected dependencies. Never listens:
// src/server.ts owns the process; tests build their own app.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance, onRequestHookHandler, preParsingHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import type { DestinationStream } from 'pino'
import type { Dispatcher } from 'undici'
import packageJson from '../package.json' with { type: 'json' }
import type { Config } from './config/config.ts'
import { errorHandler, sendProblem } from './http/error-handler.ts'
import { ProblemError } from './http/errors.ts'
import { ClientTokenSet, clientOf, clientTokenGuard, tokenGuessLimit } from './guards/client-token.ts'
import { ClientTokenFile } from './guards/client-token-file.ts'
import { visitorTokenGuard } from './guards/visitor-token.ts'
import { botCheckGuard } from './guards/bot-check.ts'
import { AltchaChecker } from './bot-check/altcha.ts'
import { TurnstileChecker } from './bot-check/turnstile.ts'
import { MemoryReplayStore, RedisReplayStore } from './bot-check/replay-store.ts'
import type { BotChecker } from './bot-check/verdict.ts'
import { botCheckRoutes } from './routes/bot-check.ts'
import { originGuard } from './guards/origin.ts'
import { buildIdempotency } from './idempotency/build.ts'
import { forwardedAddressCheck } from './http/forwarded-address.ts'
import { limitConnections } from './http/connection-limit.ts'
import { jsonBodyParser } from './http/json-body.ts'
import { createLogger } from './telemetry/logger.ts'
import { PROBLEM_SCHEMA } from './http/problem-schema.ts'
import { registerCors } from './plugins/external/cors.ts'
import { registerOpenApi } from './plugins/external/openapi.ts'
import { registerRateLimit } from './plugins/external/rate-limit.ts'
import { registerLoadShedding } from './plugins/app/load-shedding.ts'
import { registerMetrics } from './plugins/app/metrics.ts'
import { createMetrics } from './telemetry/metrics.ts'
import type { Metrics } from './telemetry/metrics.ts'
import { Readiness } from './http/readiness.ts'
import { createRedis, isRedisReady } from './redis/connection.ts'
import { requestIdOf } from './http/request-id.ts'
import { RequestLog } from './telemetry/request-log.ts'
import { requestLogger } from './telemetry/request-logger.ts'
import { healthRoutes } from './routes/health.ts'
import { notFoundRoutes, trackRouteMethods } from './routes/not-found.ts'
import type { RateLimitHook } from './routes/not-found.ts'
import { openApiRoutes } from './routes/openapi.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { messageRoutes } from './routes/messages.ts'
import { SessionTokens } from './tokens/session-tokens.ts'
import { SecretFiles } from './tokens/secret-files.ts'
import { VisitorTokens } from './tokens/visitor-tokens.ts'
import { Quotas } from './quotas/quotas.ts'
import { MemoryQuotaStore } from './quotas/memory-store.ts'
import { RedisQuotaStore } from './quotas/redis-store.ts'
import { SecretScrubber } from './lib/secrets.ts'
import { SECURITY_HEADERS } from './http/security-headers.ts'
import { buildUpstream } from './upstream/build.ts'
import type { UpstreamObserver } from './upstream/build.ts'
import type { Tracing } from './tracing/tracing.ts'

export const VERSION: string = packageJson.version

export interface AppDeps {
  /** Where log lines go (default: stdout). */
  logStream?: DestinationStream
  /** An undici dispatcher for the upstream (default: a pool owned by the app). */
  dispatcher?: Dispatcher
  readiness?: Readiness
  /** The metrics registry (default: a new one; the server shares it with its metrics port). */
  metrics?: Metrics
  /** Watch the key, secret and client-token files for changes (the server does; most tests need not). */
  watchKeyFiles?: boolean
  /** The clock of cooldowns, windows and expiries (default Date.now; tests move one by hand). */
  now?: () => number
  /** An undici dispatcher for the visitor key set and the bot check's verifier (default: undici's global one). */
  identityDispatcher?: Dispatcher
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Re-reads the API key, session-token secret and client-token files (SIGHUP). */
    reloadKeys: (reason: string) => void
  }
}

/** Upstream events, counted in the metrics. */
function observerOf (metrics: Metrics): UpstreamObserver {
  return {
    attempt: (outcome, durationMs) => metrics.recordUpstreamAttempt(outcome, durationMs),
    retry: (reason) => metrics.recordRetry(reason),
    overloaded: (reason) => metrics.recordOverload(reason),
    keyRefused: () => metrics.recordKeyRefused(),
    circuit: (state) => metrics.setCircuitState(state),
    key: (key) => metrics.setApiKey(key),
    firstByte: (seconds) => metrics.recordFirstByte(seconds),
    streamEnded: (end) => metrics.recordStreamEnd(end)
  }
}

/** The secrets besides the API keys (the key ring adds those), for scrubbing by value. */
function secretsOf (config: Config): string[] {
  const redisPassword = config.redisUrl === undefined ? '' : decodeURIComponent(new URL(config.redisUrl).password)
  const { secret, previous } = config.sessionTokens
  const visitorSecret = config.visitors?.keys.kind === 'secret' ? config.visitors.keys.secret : ''
  const botCheckSecret = config.botCheck.kind === 'turnstile' ? config.botCheck.secret : config.botCheck.kind === 'altcha' ? config.botCheck.hmacKey ?? '' : ''
  return [...config.clientTokens.map((client) => client.token), redisPassword, secret ?? '', previous ?? '', visitorSecret, botCheckSecret, ...config.tracing?.headerValues ?? []]
}

/** A hop count as the function Fastify runs for it (its types omit the number form). */
function trustProxyOption (trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust
}

/**
 * Who is calling: with visitor tokens, one guard reads the bearer value as a client token or
 * a visitor token; without, the client-token guard alone (none at all without client tokens).
 */
function callerGuard (app: FastifyInstance, config: Config, clients: ClientTokenSet, metrics: Metrics, deps: AppDeps): onRequestHookHandler | undefined {
  if (config.visitors === undefined) return clientTokenGuard(clients, config.requireClientToken)
  const visitors = new VisitorTokens(config.visitors, {
    now: deps.now,
    dispatcher: deps.identityDispatcher,
    onKeyFetchError: (cause) => app.log.warn({ cause }, 'the visitor key set could not be fetched')
  })
  visitors.start()
  app.addHook('onClose', async () => { visitors.close() })
  return visitorTokenGuard({
    clientTokens: clients,
    requireClientToken: config.requireClientToken,
    visitors,
    requireVisitorToken: config.visitors.required,
    onVerdict: (verdict, request) => {
      metrics.recordVisitorToken(verdict.valid ? 'valid' : verdict.reason)
      // The caller is never told which check failed; the log is (never the token).
      if (!verdict.valid) request.log.info({ reason: verdict.reason }, 'visitor token refused')
    }
  }) as unknown as onRequestHookHandler
}

/** The hosts a Turnstile token may come from: CORS_ORIGINS' own (none to check with `*`). */
function turnstileHosts (origins: string[]): string[] | undefined {
  if (origins.includes('*')) return undefined
  return origins.filter((origin) => origin !== 'null').map((origin) => new URL(origin).hostname.toLowerCase())
}

/** The bot check of POST /sessions: its checker and its hook; undefined with BOT_CHECK=off. */
function buildBotCheck (app: FastifyInstance, config: Config, redis: Redis | undefined, metrics: Metrics, deps: AppDeps, scrubber: SecretScrubber): { checker: BotChecker, guard: preParsingHookHandler } | undefined {
  const settings = config.botCheck
  if (settings.kind === 'off') return undefined
  let checker: BotChecker
  if (settings.kind === 'turnstile') {
    const turnstile = new TurnstileChecker({
      verifyUrl: settings.verifyUrl,
      secret: settings.secret,
      timeoutMs: settings.timeoutMs,
      allowedHostnames: turnstileHosts(config.cors.origins),
      action: settings.action,
      dispatcher: deps.identityDispatcher
    })
    app.addHook('onClose', async () => { await turnstile.close() })
    checker = turnstile
  } else {
    // Without a configured key (one replica: config.ts requires it with REDIS_URL), a random one.
    const hmacKey = settings.hmacKey ?? randomBytes(32).toString('base64url')
    if (settings.hmacKey === undefined) {
      scrubber.add(hmacKey)
      app.log.warn('ALTCHA_HMAC_KEY is not set: using a random key, so challenges stop working when this process restarts')
    }
    checker = new AltchaChecker({
      hmacKey,
      maxNumber: settings.maxNumber,
      ttlSeconds: settings.ttlSeconds,
      replays: redis === undefined ? new MemoryReplayStore({ now: deps.now }) : new RedisReplayStore(redis),
      now: deps.now
    })
  }
  const guard = botCheckGuard({
    checker,
    onError: settings.onError,
    onVerdict: (verdict, request, letThrough) => {
      if (verdict.ok) {
        metrics.recordBotCheck('passed')
        return
      }
      if (verdict.reason !== 'unavailable') {
        metrics.recordBotCheck(verdict.reason)
        request.log.info({ reason: verdict.reason }, 'bot check refused')
        return
      }
      if (verdict.cause === 'store') metrics.recordStoreError('bot_check')
      metrics.recordBotCheck(letThrough ? 'let_through' : 'unavailable')
      request.log.warn({ cause: verdict.cause, letThrough }, letThrough ? 'bot check unavailable: request let through (BOT_CHECK_ON_ERROR=open)' : 'bot check unavailable')
    }
  }) as unknown as preParsingHookHandler
  return { checker, guard }
}

/**
 * Tracing, when the configuration turned it on: only then is any OpenTelemetry module
 * loaded, so with tracing off the app has no span, hook or log mixin to pay for.
 */
async function startTracing (config: Config, clients: ClientTokenSet): Promise<Tracing | undefined> {
  if (config.tracing === undefined) return undefined
  const tracing = await import('./tracing/tracing.ts')
  // The guard's own check, on the same (reloadable) set, so inbound trace context is trusted
  // from exactly the callers it names, also after CLIENT_TOKENS_FILE changes.
  return tracing.startTracing({ ...config.tracing, isClient: (authorization) => typeof clientOf(clients, authorization) === 'string' })
}

/** Daily quotas per visitor, in Redis when replicas share it; undefined when none is set. */
function buildQuotas (app: FastifyInstance, config: Config, redis: Redis | undefined, metrics: Metrics, now: (() => number) | undefined): Quotas | undefined {
  const { sessions, messages, tokens } = config.quotas
  if (sessions === undefined && messages === undefined && tokens === undefined) return undefined
  return new Quotas({
    limits: config.quotas,
    store: redis === undefined ? new MemoryQuotaStore({ now }) : new RedisQuotaStore(redis),
    onStoreError: config.rateLimit.onStoreError,
    onStoreFailure: (error) => {
      metrics.recordStoreError('quota')
      app.log.warn({ code: (error as { code?: string }).code, err: error.message }, 'quota store failed')
    },
    onExceeded: (kind) => metrics.recordQuotaRefused(kind),
    now
  })
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const scrubber = new SecretScrubber()
  for (const secret of secretsOf(config)) scrubber.add(secret)
  const readiness = deps.readiness ?? new Readiness()

  const clients = new ClientTokenSet(config.clientTokens)
  const tracing = await startTracing(config, clients)
  const log = createLogger(config.logLevel, scrubber, deps.logStream, tracing?.logFields)
  const app = Fastify({
    loggerInstance: log.logger as FastifyBaseLogger,
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new RequestLog(log, tracing?.idsOf),
    childLoggerFactory: requestLogger,
    bodyLimit: config.bodyLimitBytes,
    // Slow clients cannot hold sockets forever; idle keep-alive outlives load balancers' own.
    // Node checks these limits every connectionsCheckingInterval (30 s by default): 1 s here.
    http: { headersTimeout: config.server.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    trustProxy: trustProxyOption(config.trustProxy),
    // Requests on connections still open during shutdown are served, not refused.
    return503OnClosing: false,
    // The contract's types are exact: no coercion, no silent removal, no defaults.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Errors Fastify meets before routing (a malformed URL) go through the one error
    // handler too, with a request id and the security headers, never echoing the path.
    frameworkErrors: (_error, request, reply) => {
      reply.header('x-request-id', request.id).headers(SECURITY_HEADERS)
      return sendProblem(reply, new ProblemError('BAD_REQUEST'))
    }
  })
  app.decorateRequest('clientName', null)
  app.decorateRequest('invalidClientToken', false)
  app.decorateRequest('visitorId', null)
  app.decorateRequest('invalidVisitorToken', false)
  app.decorateRequest('outcome', null)
  if (tracing !== undefined) {
    tracing.reportTo(app.log)
    // Before every hook and route: the request's span covers the guards, and the routes are wrapped.
    await app.register(tracing.plugin)
    app.addHook('onClose', tracing.shutdown)
  }

  const metrics = deps.metrics ?? createMetrics()
  // Before any route, so every route is known to the request metrics.
  registerMetrics(app, metrics)
  limitConnections(app.server, { max: config.server.maxConnections, onDrop: () => metrics.recordConnectionDropped() })
  const observer = observerOf(metrics)
  const upstream = buildUpstream(config, {
    scrubber,
    log: app.log,
    userAgent: `hottask-proxy/${VERSION}`,
    observer,
    dispatcher: deps.dispatcher,
    now: deps.now,
    traceAttempt: tracing?.attempt
  })
  metrics.trackUpstreamLoad(upstream.limiter)
  metrics.trackMessageLoad(upstream.messageLimiter)
  metrics.trackReadiness(readiness)
  metrics.trackCircuit(upstream.circuit)
  // Without a configured secret (one replica: config.ts requires it with REDIS_URL), a random one.
  const tokenSecret = config.sessionTokens.secret ?? randomBytes(32).toString('base64url')
  if (config.sessionTokens.secret === undefined) {
    scrubber.add(tokenSecret)
    app.log.warn('SESSION_TOKEN_SECRET is not set: using a random secret, so session tokens stop working when this process restarts')
  }
  const tokens = new SessionTokens({ secret: tokenSecret, previous: config.sessionTokens.previous, ttlMs: config.sessionTokens.ttlMs, now: deps.now })
  const secretFiles = new SecretFiles({ ...config.sessionTokens, secret: tokenSecret, tokens, log: app.log, onSecret: (secret) => scrubber.add(secret) })
  const clientFile = new ClientTokenFile({ file: config.clientTokensFile, initial: config.clientTokens, clients, log: app.log, onToken: (token) => scrubber.add(token) })
  if (deps.watchKeyFiles === true) {
    upstream.keyFiles.watch()
    secretFiles.watch()
    clientFile.watch()
  }
  app.decorate('reloadKeys', (reason: string) => {
    upstream.keyFiles.reload(reason)
    secretFiles.reload(reason)
    clientFile.reload(reason)
  })
  app.addHook('onClose', async () => {
    secretFiles.close()
    clientFile.close()
    await upstream.close()
  })

  let redis: Redis | undefined
  if (config.redisUrl !== undefined) {
    const client = createRedis(config.redisUrl, app.log, { ca: config.redisCa })
    redis = client
    // Redis gates readiness only when requests fail without it (RATE_LIMIT_ON_STORE_ERROR=closed):
    // then a replica that still reaches it should take them. Open, every replica serves without
    // Redis, and failing them all at once for a shared dependency would take the service down.
    readiness.addCheck('redis', () => isRedisReady(client), { required: config.rateLimit.onStoreError === 'closed' })
    app.addHook('onClose', async () => { client.disconnect() })
  }

  // With a trusted proxy, a forwarded address that is no IP is replaced by the socket's.
  const checkForwarded = config.trustProxy === false
    ? undefined
    : forwardedAddressCheck((request) => request.log.warn({ remoteAddress: request.socket.remoteAddress }, 'X-Forwarded-For holds no IP address: using the socket address (logged once)'))
  app.addHook('onRequest', (request, reply, done) => {
    checkForwarded?.(request)
    reply.header('x-request-id', request.id).headers(SECURITY_HEADERS)
    // A browser's preflight always names its method; anything else is no preflight to answer.
    const malformedPreflight = request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] === undefined
    done(malformedPreflight ? new ProblemError('BAD_REQUEST', 'A preflight request must name its method in Access-Control-Request-Method.') : undefined)
  })
  app.setErrorHandler(errorHandler((code, request) => {
    if (code === 'ORIGIN_NOT_ALLOWED') metrics.recordOriginRefused()
    tracing?.recordProblem(request, code)
  }))
  const routeMethods = trackRouteMethods(app)
  jsonBodyParser(app)
  registerLoadShedding(app, {
    maxEventLoopDelayMs: config.load.maxEventLoopDelayMs,
    maxHeapUsedBytes: config.load.maxHeapUsedBytes,
    onShed: (reason) => observer.overloaded(reason),
    onSampleError: (error) => app.log.warn({ err: (error as Error).message }, 'process health reading failed')
  })
  await registerCors(app, config.cors.origins, config.cors.maxAgeSeconds)
  await registerRateLimit(app, {
    limits: config.rateLimit,
    namedClients: config.clientTokens.length > 0,
    visitors: config.visitors !== undefined,
    redis,
    onStoreFailure: (error) => {
      metrics.recordStoreError('rate_limit')
      app.log.warn({ code: (error as { code?: string }).code, err: error.message }, 'rate-limit store failed')
    },
    // Logged by the completion line (code RATE_LIMITED), like every refusal.
    onLimited: () => { metrics.recordRateLimited() }
  })
  app.addSchema(PROBLEM_SCHEMA)
  await registerOpenApi(app, { version: VERSION, license: packageJson.license, sessionBodyOptional: config.defaultSerialNumber !== undefined })
  notFoundRoutes(app, routeMethods, app.rateLimit() as unknown as RateLimitHook)
  healthRoutes(app, readiness)
  openApiRoutes(app)
  const idempotency = buildIdempotency(config, redis, metrics, app.log, deps.now)
  const clientToken = callerGuard(app, config, clients, metrics, deps)
  const quotas = buildQuotas(app, config, redis, metrics, deps.now)
  const bot = buildBotCheck(app, config, redis, metrics, deps, scrubber)
  const origin = originGuard(config.cors.origins)
  sessionRoutes(app, {
    sessions: upstream.sessions,
    idempotency,
    deadlineMs: config.upstreamTimeoutMs,
    guards: clientToken === undefined ? [origin] : [clientToken, origin],
    allowedSerialNumbers: config.allowedSerialNumbers,
    defaultSerialNumber: config.defaultSerialNumber,
    tokens,
    quotas,
    botCheck: bot?.guard
  })
  if (bot?.checker instanceof AltchaChecker) {
    botCheckRoutes(app, { checker: bot.checker, guards: [origin] })
  }
  // A wrong client token is refused at once here, after counting against its address:
  // the route's own limit is per session, and a guess names none.
  const guessLimit = tokenGuessLimit(app, config.rateLimit)
  messageRoutes(app, {
    messages: upstream.messages,
    idempotency,
    tokens,
    guards: clientToken === undefined ? [origin] : [clientToken, guessLimit, origin],
    maxChars: config.messages.maxChars,
    bodyLimitBytes: config.messages.bodyLimitBytes,
    rateLimitMax: config.messages.rateLimitMax,
    deadlineMs: config.messages.timeoutMs,
    onMessage: (outcome) => metrics.recordMessage(outcome),
    quotas
  })

  await app.ready()
  return app
}
