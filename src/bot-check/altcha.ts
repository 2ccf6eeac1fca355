// The self-hosted bot check: ALTCHA proof of work, made and checked by altcha-lib in its
// default (v2) scheme with SHA-256, which the ALTCHA widget (v3) solves. A challenge is
// signed with our HMAC key and names the counter the visitor must find by brute force
// (deterministic mode: the work is up to maxNumber hashes, the check one). A solution
// passes once: its challenge's signature is remembered until the challenge expires, so
// neither the same solution nor another solution of the same challenge passes twice.
import { Buffer } from 'node:buffer'
import { createChallenge, randomInt, verifySolution } from 'altcha-lib'
import type { ChallengeParameters, Solution } from 'altcha-lib'
import { deriveKey } from 'altcha-lib/algorithms/sha'
import type { ReplayStore } from './replay-store.ts'
import { PASSED, precheck, refused, unavailable } from './verdict.ts'
import type { BotChecker, BotCheckVerdict } from './verdict.ts'

export const ALTCHA_ALGORITHM = 'SHA-256'
export const DEFAULT_MAX_NUMBER = 100_000
export const DEFAULT_TTL_SECONDS = 300
export const MIN_HMAC_KEY_BYTES = 32
/** The library's default counter mode writes the counter as a uint32. */
const MAX_COUNTER = 0xffffffff

/** What GET /bot-check/challenge serves, as JSON, to the widget. */
export interface AltchaChallenge {
  parameters: ChallengeParameters
  signature: string
}

/** What the widget sends back, base64 of this as JSON. */
interface Payload {
  challenge: AltchaChallenge
  solution: Solution
}

export interface AltchaOptions {
  /** At least 32 bytes; signs challenges, so whoever has it can mint solved ones. */
  hmacKey: string
  /** The counter is drawn from 0…maxNumber: the visitor's work is up to that many hashes. */
  maxNumber: number
  ttlSeconds: number
  replays: ReplayStore
  now?: () => number
}

export class AltchaChecker implements BotChecker {
  readonly #hmacKey: string
  readonly #maxNumber: number
  readonly #ttlSeconds: number
  readonly #replays: ReplayStore
  readonly #now: () => number

  constructor (options: AltchaOptions) {
    if (Buffer.byteLength(options.hmacKey) < MIN_HMAC_KEY_BYTES) throw new Error(`the ALTCHA HMAC key must be at least ${MIN_HMAC_KEY_BYTES} bytes`)
    if (!Number.isInteger(options.maxNumber) || options.maxNumber < 1 || options.maxNumber > MAX_COUNTER) throw new Error(`ALTCHA maxNumber must be an integer from 1 to ${MAX_COUNTER}`)
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1) throw new Error('ALTCHA ttlSeconds must be a positive integer')
    this.#hmacKey = options.hmacKey
    this.#maxNumber = options.maxNumber
    this.#ttlSeconds = options.ttlSeconds
    this.#replays = options.replays
    this.#now = options.now ?? Date.now
  }

  /** A fresh challenge for one visitor; serve it with Cache-Control: no-store. */
  async challenge (): Promise<AltchaChallenge> {
    const { parameters, signature } = await createChallenge({
      algorithm: ALTCHA_ALGORITHM,
      cost: 1,
      counter: randomInt(this.#maxNumber, 0),
      deriveKey,
      expiresAt: Math.floor(this.#now() / 1000) + this.#ttlSeconds,
      hmacSignatureSecret: this.#hmacKey
    })
    return { parameters, signature: signature! }
  }

  // The visitor's address plays no part: the work done is the proof.
  async verify (token: string, _context?: { remoteIp: string }): Promise<BotCheckVerdict> {
    const early = precheck(token)
    if (early !== undefined) return early
    const payload = decode(token)
    if (payload === undefined) return refused('invalid')
    const { challenge, solution } = payload
    let result
    try {
      // The library checks expiry by the real clock, then the signature, then the work.
      result = await verifySolution({ challenge, solution, deriveKey, hmacSignatureSecret: this.#hmacKey })
    } catch {
      return refused('invalid') // malformed parameters it could not even read
    }
    if (result.expired) return refused('expired')
    if (!result.verified) return refused('invalid')
    // Signed, so ours; ours always expire, and the replay memory needs the time.
    const { expiresAt } = challenge.parameters
    if (typeof expiresAt !== 'number') return refused('invalid')
    const expiresAtMs = expiresAt * 1000
    if (expiresAtMs <= this.#now()) return refused('expired')
    try {
      // The signature is checked exactly (lowercase hex), so it names the challenge uniquely.
      return await this.#replays.remember(challenge.signature, expiresAtMs) ? PASSED : refused('replayed')
    } catch {
      return unavailable('store') // a solution we could not record is never accepted
    }
  }
}

type Loose = Record<string, unknown>

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The widget's payload, shaped enough for the library to judge, or undefined. */
function decode (token: string): Payload | undefined {
  let value: unknown
  try {
    value = JSON.parse(atob(token)) // as altcha-lib's own framework plugins read it
  } catch {
    return undefined
  }
  if (!isObject(value) || !isObject(value.challenge) || !isObject(value.solution)) return undefined
  const { parameters, signature } = value.challenge
  if (!isObject(parameters) || typeof signature !== 'string') return undefined
  // Only the signed parts go on: anything else the client added is dropped.
  return { challenge: { parameters: parameters as unknown as ChallengeParameters, signature }, solution: value.solution as unknown as Solution }
}
