// Why an upstream exchange was aborted: our deadline, or the client going away. The
// reason travels as the AbortSignal's reason, so whoever catches the abort can tell.

export class DeadlineExceeded extends Error {
  readonly code = 'DEADLINE_EXCEEDED'
  constructor () {
    super('the upstream deadline passed')
    this.name = 'DeadlineExceeded'
  }
}

export class ClientGoneError extends Error {
  readonly code = 'CLIENT_GONE'
  constructor () {
    super('the client went away before the upstream answered')
    this.name = 'ClientGoneError'
  }
}

export const isDeadline = (signal: AbortSignal): boolean => signal.aborted && signal.reason instanceof DeadlineExceeded
