// The upstream's JSON envelope: {Data, Version, Success, Code, Message}. Parsing keeps
// the exact digits of every number named SessionID, so an id beyond 2^53-1 is never
// rounded on its way to the caller.

/** The source text of a JSON number, as the upstream wrote it. */
class NumberText {
  readonly text: string
  constructor (text: string) { this.text = text }
}

// A number's source text is always given to a reviver (V8 since Node 21): it is a primitive.
function keepSessionIdText (key: string, value: unknown, context: { source: string }): unknown {
  return key === 'SessionID' && typeof value === 'number' ? new NumberText(context.source) : value
}

export interface Envelope {
  Data?: unknown
  Success: boolean
  Code: number
  Message?: unknown
}

/**
 * The parsed JSON body, or undefined when it is not JSON (or too deeply nested to read: the
 * reviver walks the document recursively, and a deep one overflows the stack). A reviver
 * slows JSON.parse several times over, so it runs only when a number may have lost digits:
 * never for the usual answer, whose SessionID is a safe integer.
 */
export function parseJson (text: string): unknown {
  try {
    const body: unknown = JSON.parse(text)
    const id = (body as { Data?: { SessionID?: unknown } } | null)?.Data?.SessionID
    if (!Number.isSafeInteger(id)) return JSON.parse(text, keepSessionIdText as (key: string, value: unknown) => unknown)
    ;(body as { Data: { SessionID: unknown } }).Data.SessionID = new NumberText(String(id))
    return body
  } catch {
    return undefined
  }
}

/** An envelope has a boolean Success and an integer Code; other members are optional. */
export function asEnvelope (body: unknown): Envelope | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  const { Success, Code } = body as Record<string, unknown>
  if (typeof Success !== 'boolean' || !Number.isInteger(Code)) return undefined
  return body as Envelope
}

/** Success and Code must agree: Success with 200, failure with anything else. */
export function isConsistent (envelope: Envelope): boolean {
  return envelope.Success === (envelope.Code === 200)
}

const POSITIVE_INTEGER = /^[1-9][0-9]*$/

/** Data.SessionID as its exact decimal digits, or undefined unless it is a positive integer. */
export function sessionIdOf (envelope: Envelope): string | undefined {
  const data = envelope.Data
  if (typeof data !== 'object' || data === null) return undefined
  const id = (data as Record<string, unknown>).SessionID
  if (!(id instanceof NumberText) || !POSITIVE_INTEGER.test(id.text)) return undefined
  return id.text
}
