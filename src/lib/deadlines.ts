// Deadlines without a timer each. Every upstream call runs under one (UPSTREAM_TIMEOUT_MS,
// or MESSAGE_TIMEOUT_MS for messages), and at the slow shape a thousand of them wait at
// once: a Node timer, its callback and the listener that joins the client's presence per
// request were held across the wait and promoted with it. All deadlines of one length end
// in the order they began, so each length keeps its deadlines in a list, oldest first,
// under a single timer set for the oldest; a deadline that is disposed of leaves the list
// at once, and the timer, when it fires, aborts what is due and is set again for what is
// left. The Deadline is itself the cancellation and the listener, so it is one object.
import { Cancel } from './cancel.ts'
import type { CancelSignal } from './cancel.ts'
import { ClientGoneError, DeadlineExceeded } from './abort-reasons.ts'

/** The deadlines of one length, oldest first, under one timer. */
class DeadlineList {
  readonly #timeoutMs: number
  first: Deadline | undefined = undefined
  last: Deadline | undefined = undefined
  #timer: NodeJS.Timeout | undefined
  readonly #onTimer = (): void => this.#expire()

  constructor (timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  add (deadline: Deadline): void {
    deadline.previous = this.last
    if (this.last === undefined) this.first = deadline
    else this.last.next = deadline
    this.last = deadline
    this.#timer ??= setTimeout(this.#onTimer, this.#timeoutMs)
  }

  remove (deadline: Deadline): void {
    if (deadline.previous === undefined) this.first = deadline.next
    else deadline.previous.next = deadline.next
    if (deadline.next === undefined) this.last = deadline.previous
    else deadline.next.previous = deadline.previous
    deadline.previous = undefined
    deadline.next = undefined
    // Nothing left to wait for: no timer may keep the process alive.
    if (this.first === undefined && this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  #expire (): void {
    this.#timer = undefined
    const now = performance.now()
    let due = this.first
    while (due !== undefined && due.dueAt <= now) {
      this.remove(due)
      due.expire()
      due = this.first
    }
    // Node's timers count whole milliseconds: one may fire just before a fractional due time.
    if (due !== undefined) this.#timer = setTimeout(this.#onTimer, Math.max(1, due.dueAt - now))
  }
}

const lists = new Map<number, DeadlineList>()

/**
 * Aborts with DeadlineExceeded `timeoutMs` after it is made, or with ClientGoneError as
 * soon as `clientSignal` aborts; dispose() when the work is done.
 */
export class Deadline extends Cancel {
  /** Epoch ms, for "does a retry still fit" arithmetic. */
  readonly at: number
  /** performance.now() ms: the list's order. */
  readonly dueAt: number
  previous: Deadline | undefined = undefined
  next: Deadline | undefined = undefined
  readonly #list: DeadlineList
  readonly #clientSignal: CancelSignal
  #listed = true

  constructor (timeoutMs: number, clientSignal: CancelSignal) {
    super()
    this.at = Date.now() + timeoutMs
    this.dueAt = performance.now() + timeoutMs
    this.#clientSignal = clientSignal
    let list = lists.get(timeoutMs)
    if (list === undefined) {
      list = new DeadlineList(timeoutMs)
      lists.set(timeoutMs, list)
    }
    this.#list = list
    list.add(this)
    clientSignal.addEventListener('abort', this)
    if (clientSignal.aborted) this.handleEvent()
  }

  /** The client left. */
  handleEvent (): void {
    this.abort(new ClientGoneError())
  }

  /** Called by its list when it is due. */
  expire (): void {
    this.#listed = false
    this.abort(new DeadlineExceeded())
  }

  /** Stops waiting for the deadline and for the client. */
  dispose (): void {
    if (this.#listed) {
      this.#listed = false
      this.#list.remove(this)
    }
    this.#clientSignal.removeEventListener('abort', this)
  }
}
