// Whether this instance should receive traffic: not once shutdown has begun, and not
// while a required dependency is down. A dependency the instance can serve without is
// reported (in /readyz's body and the readiness gauge) but does not make it not-ready:
// every replica shares it, so failing readiness for it would take them all out at once.
// Health (liveness) is separate and always ok.

export type ReadinessCheck = () => boolean

/**
 * Every check there can be: `shutdown` always, the others when configured. A fixed set, so
 * the metrics can label by check name without a caller growing the series count.
 */
export const READINESS_CHECKS = ['shutdown', 'redis'] as const
export type ReadinessCheckName = typeof READINESS_CHECKS[number]

export interface ReadinessReport {
  ready: boolean
  checks: Partial<Record<ReadinessCheckName, 'ok' | 'failing'>>
}

export class Readiness {
  #draining = false
  readonly #checks = new Map<Exclude<ReadinessCheckName, 'shutdown'>, { check: ReadinessCheck, required: boolean }>()

  /** Called when shutdown begins: from now on the instance reports not-ready. */
  drain (): void {
    this.#draining = true
  }

  /** A check that is not `required` is reported, but its failing leaves the instance ready. */
  addCheck (name: Exclude<ReadinessCheckName, 'shutdown'>, check: ReadinessCheck, options: { required?: boolean } = {}): void {
    this.#checks.set(name, { check, required: options.required ?? true })
  }

  report (): ReadinessReport {
    const checks: ReadinessReport['checks'] = { shutdown: this.#draining ? 'failing' : 'ok' }
    let ready = !this.#draining
    for (const [name, { check, required }] of this.#checks) {
      const ok = check()
      checks[name] = ok ? 'ok' : 'failing'
      if (!ok && required) ready = false
    }
    return { ready, checks }
  }
}
