// Why work was cancelled: its deadline passed, or its client went away. The reason
// travels as the signal's reason, so whoever catches the abort can tell; each carries a
// stable `code`, which is what callers match on.
import type { CancelSignal } from './cancel.ts'
import { StacklessError } from './stackless-error.ts'

export const DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED'
export const CLIENT_GONE = 'CLIENT_GONE'

export class DeadlineExceeded extends StacklessError {
  readonly code = DEADLINE_EXCEEDED
  constructor () {
    super('the upstream deadline passed')
    this.name = 'DeadlineExceeded'
  }
}

export class ClientGoneError extends StacklessError {
  readonly code = CLIENT_GONE
  constructor () {
    super('the client went away before the upstream answered')
    this.name = 'ClientGoneError'
  }
}

export const isDeadline = (signal: CancelSignal): boolean => signal.aborted && signal.reason instanceof DeadlineExceeded
