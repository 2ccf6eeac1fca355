// npm run mutation. The mutate list is the covered set: docs/testing.md has each module's
// score, the threshold (scripts/mutation-score.ts) and why each surviving mutant is
// equivalent. The tap runner runs each test file as its own node process (type stripping,
// no loader), and the TypeScript checker drops mutants that do not compile.
//
// A mutant runs the test files that cover it in the order the runner found them, up to the
// first that fails. Listed here: the unit files first, then the feature files, each in name
// order. (The runner still passes the list through glob, which keeps literal paths in order
// in practice, not by contract: the order is for speed, never for results.) With a pattern,
// glob handed over the feature files first, and a mutant a unit test kills in a second first
// ran every feature file that reaches it: over a minute for a module on the request path.
import { globSync } from 'node:fs'

// Process-level files that mostly sleep or spawn servers: nothing they run in their own
// process is mutated code, and faster tests of the same modules pin the same rules.
const LEFT_OUT = new Set([
  'test/unit/server.test.ts',
  ...['load-shedding', 'retries', 'key-rotation', 'rate-limit-redis', 'redis-tls', 'client-timeouts', 'server-process', 'connection-limit']
    .map((name) => `test/features/${name}.test.ts`)
])

const files = (pattern) => globSync(pattern).filter((file) => !LEFT_OUT.has(file)).sort()

export default {
  packageManager: 'npm',
  testRunner: 'tap',
  tap: {
    testFiles: [...files('test/unit/**/*.test.ts'), ...files('test/features/*.test.ts')],
    nodeArgs: ['-r', '{{hookFile}}', '{{testFile}}'],
    forceBail: true
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: {
    prioritizePerformanceOverAccuracy: true
  },
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  concurrency: 4,
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: {
    fileName: 'reports/mutation/mutation.html'
  },
  jsonReporter: {
    fileName: 'reports/mutation/mutation.json'
  },
  clearTextReporter: {
    allowColor: false,
    logTests: false,
    reportMutants: true,
    reportScoreTable: true
  },
  thresholds: {
    high: 90,
    low: 85,
    break: null
  },
  ignorePatterns: ['reports', 'coverage', '.tap', 'test-artifacts', 'bench/results', 'examples'],
  mutate: [
    'src/upstream/classify.ts',
    'src/upstream/envelope.ts',
    'src/upstream/retry-after.ts',
    'src/upstream/message.ts',
    'src/upstream/session-service.ts',
    'src/upstream/retry-budget.ts',
    'src/upstream/circuit-breaker.ts',
    'src/upstream/chatbot-breakers.ts',
    'src/upstream/key-evidence.ts',
    'src/upstream/concurrency.ts',
    'src/upstream/upstream-error.ts',
    'src/guards/client-token.ts',
    'src/guards/origin.ts',
    'src/lib/secrets.ts',
    'src/telemetry/logger.ts',
    'src/idempotency/coordinator.ts',
    'src/idempotency/key.ts',
    'src/idempotency/memory-store.ts',
    'src/idempotency/redis-store.ts',
    'src/idempotency/answer.ts',
    'src/idempotency/build.ts',
    'src/config/config.ts',
    'src/config/lists.ts',
    'src/config/key-file.ts',
    'src/config/client-tokens-file.ts',
    'src/config/redis-tls.ts',
    'src/guards/client-token-file.ts',
    'src/http/error-handler.ts',
    'src/http/errors.ts',
    'src/routes/sessions.ts',
    'src/routes/health.ts',
    'src/config/base-url.ts',
    'src/config/secrets.ts',
    'src/http/forwarded-address.ts',
    'src/http/json-body.ts',
    'src/routes/not-found.ts',
    'src/config/connections.ts',
    'src/http/connection-limit.ts',
    'src/telemetry/process-health.ts',
    'src/plugins/app/load-shedding.ts',
    'src/tokens/session-tokens.ts',
    'src/tokens/secret-files.ts',
    'src/guards/session-token.ts',
    'src/lib/stream-scrubber.ts',
    'src/upstream/relay.ts',
    'src/upstream/ask-client.ts',
    'src/upstream/admission.ts',
    'src/upstream/client.ts',
    'src/upstream/exchange.ts',
    'src/upstream/message-service.ts',
    'src/routes/messages.ts',
    'src/tokens/visitor-tokens.ts',
    'src/tokens/visitor-keys.ts',
    'src/guards/visitor-token.ts',
    'src/guards/bot-check.ts',
    'src/guards/identity.ts',
    'src/config/identity.ts',
    'src/quotas/day.ts',
    'src/quotas/memory-store.ts',
    'src/quotas/redis-store.ts',
    'src/quotas/quotas.ts',
    'src/bot-check/altcha.ts',
    'src/bot-check/turnstile.ts',
    'src/bot-check/siteverify.ts',
    'src/bot-check/replay-store.ts',
    'src/bot-check/verdict.ts',
    'src/routes/bot-check.ts',
    'src/config/tracing.ts',
    'src/tracing/trusted-propagator.ts',
    'src/tracing/attempt-spans.ts',
    'src/tracing/tracing.ts',
    'src/http/readiness.ts',
    'src/lib/deadlines.ts',
    'src/lib/cancel.ts',
    'src/http/client-gone.ts',
    'src/telemetry/request-logger.ts',
    'src/redis/connection.ts'
  ]
}
