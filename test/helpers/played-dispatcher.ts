// An undici dispatcher whose part the test plays: it keeps the dispatch handler it is given,
// so the test decides when the request starts, what arrives and when it fails, and it
// records each abort, pause and resume the handler asks of undici's controller.
import type { Dispatcher } from 'undici'

export interface Played {
  dispatcher: Dispatcher
  /** How many requests were dispatched. */
  dispatched: () => number
  /** The handler of the first request dispatched. */
  handler: () => Dispatcher.DispatchHandler
  /** undici's controller of the request. */
  controller: Dispatcher.DispatchController
  /** The reasons the request was aborted with. */
  aborts: unknown[]
  /** 'pause' and 'resume', in the order they were asked for. */
  flow: string[]
}

export function played (): Played {
  const handlers: Dispatcher.DispatchHandler[] = []
  const aborts: unknown[] = []
  const flow: string[] = []
  const dispatcher = { dispatch: (_options: unknown, handler: Dispatcher.DispatchHandler) => { handlers.push(handler); return true } } as unknown as Dispatcher
  const controller = {
    abort: (reason: unknown) => { aborts.push(reason) },
    pause: () => { flow.push('pause') },
    resume: () => { flow.push('resume') },
    paused: false,
    aborted: false,
    reason: null
  } as unknown as Dispatcher.DispatchController
  return { dispatcher, dispatched: () => handlers.length, handler: () => handlers[0]!, controller, aborts, flow }
}
