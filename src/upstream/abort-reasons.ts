// Why an upstream exchange was aborted: our deadline, or the client going away. The
// reason travels as the signal's reason, so whoever catches the abort can tell.
import type { CancelSignal } from '../cancel.ts'
import { StacklessError } from '../stackless-error.ts'

export class DeadlineExceeded extends StacklessError {
  readonly code = 'DEADLINE_EXCEEDED'
  constructor () {
    super('the upstream deadline passed')
    this.name = 'DeadlineExceeded'
  }
}

export class ClientGoneError extends StacklessError {
  readonly code = 'CLIENT_GONE'
  constructor () {
    super('the client went away before the upstream answered')
    this.name = 'ClientGoneError'
  }
}

export const isDeadline = (signal: CancelSignal): boolean => signal.aborted && signal.reason instanceof DeadlineExceeded
