// Whether this instance should receive traffic: not once shutdown has begun, and not
// while a required dependency is down. Health (liveness) is separate and always ok.

export type ReadinessCheck = () => boolean

export interface ReadinessReport {
  ready: boolean
  checks: Record<string, 'ok' | 'failing'>
}

export class Readiness {
  #draining = false
  readonly #checks = new Map<string, ReadinessCheck>()

  /** Called when shutdown begins: from now on the instance reports not-ready. */
  drain (): void {
    this.#draining = true
  }

  addCheck (name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check)
  }

  report (): ReadinessReport {
    const checks: ReadinessReport['checks'] = { shutdown: this.#draining ? 'failing' : 'ok' }
    for (const [name, check] of this.#checks) checks[name] = check() ? 'ok' : 'failing'
    return { ready: Object.values(checks).every((state) => state === 'ok'), checks }
  }
}
