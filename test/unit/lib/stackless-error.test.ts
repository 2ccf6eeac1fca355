import { test } from 'tap'
import { ProblemError } from '../../../src/http/errors.ts'
import { ClientGoneError, DeadlineExceeded } from '../../../src/lib/abort-reasons.ts'

test('expected outcomes capture no stack trace; the global limit is left as it was', async (t) => {
  const limit = Error.stackTraceLimit
  for (const error of [new ProblemError('RATE_LIMITED'), new ClientGoneError(), new DeadlineExceeded()]) {
    t.notMatch(error.stack ?? '', /\n\s+at /, error.name)
    t.ok(error instanceof Error)
  }
  t.equal(Error.stackTraceLimit, limit)
  t.match(new Error('bug').stack, /\n\s+at /, 'ordinary errors keep theirs')
})
