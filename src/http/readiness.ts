// Whether this instance should receive traffic: not once shutdown has begun, and not
// while a required dependency is down. Health (liveness) is separate and always ok.

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
  readonly #checks = new Map<Exclude<ReadinessCheckName, 'shutdown'>, ReadinessCheck>()

  /** Called when shutdown begins: from now on the instance reports not-ready. */
  drain (): void {
    this.#draining = true
  }

  addCheck (name: Exclude<ReadinessCheckName, 'shutdown'>, check: ReadinessCheck): void {
    this.#checks.set(name, check)
  }

  report (): ReadinessReport {
    const checks: ReadinessReport['checks'] = { shutdown: this.#draining ? 'failing' : 'ok' }
    for (const [name, check] of this.#checks) checks[name] = check() ? 'ok' : 'failing'
    return { ready: Object.values(checks).every((state) => state === 'ok'), checks }
  }
}
