// An Error that is an expected outcome, not a bug: a refusal, a deadline, a client that
// left. It captures no stack trace, the costliest part of constructing an Error, on
// paths such as 403, 429 and a thousand clients leaving at once, which must stay cheap.
// Unexpected errors are ordinary Errors and keep their stacks.
export class StacklessError extends Error {
  constructor (message: string) {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(message)
    Error.stackTraceLimit = limit
  }
}
