// Where quota counters live: memory for a single replica, Redis for many. Quotas only
// needs an atomic add with an expiry, so both stores stay small and the comparison with
// the limit (and the undo when over) happens once, in quotas.ts.
export interface QuotaStore {
  /** Adds amount (may be negative, for a refund) and returns the new total; the counter disappears by itself at expiresAtMs. */
  add (key: string, amount: number, expiresAtMs: number): Promise<number>
  /** The counter's total, 0 when there is none. */
  get (key: string): Promise<number>
}
