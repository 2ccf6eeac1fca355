// What the idempotency stores hold, and the contract both stores (memory, Redis) keep.
// An entry is `pending` while the first request for a key runs and `done` once its
// answer is known; the request's fingerprint (what it asks: the chatbot of a session, the
// content of a message) is kept in both, so a key reused for another request is refused,
// even while the first one is still running.
import type { ErrorCode } from '../http/errors.ts'

export interface StoredProblem {
  code: ErrorCode
  detail: string
  headers?: Record<string, string>
}

/** The first request's answer. Never the request id: a replay is rendered with its own. */
export interface StoredAnswer {
  status: number
  /** The response body, on success, exactly as first sent. */
  body?: string
  problem?: StoredProblem
}

export type Entry =
  | { state: 'pending', fingerprint: string }
  | { state: 'done', fingerprint: string, answer: StoredAnswer }

/**
 * `id` is already scoped to one client (see storeId). Every method may reject when the
 * store is unavailable; the coordinator then serves as if no key had been sent.
 */
export interface IdempotencyStore {
  /** Claims `id` with a pending marker living `ttlMs`: undefined if claimed, else the entry found. */
  begin: (id: string, fingerprint: string, ttlMs: number) => Promise<Entry | undefined>
  get: (id: string) => Promise<Entry | undefined>
  /** Records the answer for `ttlMs`, replacing the pending marker. */
  complete: (id: string, fingerprint: string, answer: StoredAnswer, ttlMs: number) => Promise<void>
  /** Drops the pending marker: the answer is not kept, so the client may retry. */
  abandon: (id: string) => Promise<void>
}
