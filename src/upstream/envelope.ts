// The upstream's JSON envelope: {Data, Version, Success, Code, Message}. Parsing keeps
// the exact digits of the ids in Data (SessionID, and a message's id in any letter case),
// so an id beyond 2^53-1 is never rounded on its way to the caller.

/** The source text of a JSON number, as the upstream wrote it. */
class NumberText {
  readonly text: string
  constructor (text: string) { this.text = text }
}

/** The members of Data whose numbers are ids: kept as their exact digits. */
const isIdKey = (key: string): boolean => key === 'SessionID' || key.toLowerCase() === 'messageid'

// A number's source text is always given to a reviver (V8 since Node 21): it is a primitive.
function keepIdText (key: string, value: unknown, context: { source: string }): unknown {
  return isIdKey(key) && typeof value === 'number' ? new NumberText(context.source) : value
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
 * slows JSON.parse several times over, so it runs only when an id may have lost digits:
 * never for the usual answer, whose ids are safe integers.
 */
export function parseJson (text: string): unknown {
  try {
    const body: unknown = JSON.parse(text)
    const data = (body as { Data?: unknown } | null)?.Data
    if (typeof data !== 'object' || data === null) return body
    const members = data as Record<string, unknown>
    for (const key of Object.keys(members)) {
      const value = members[key]
      if (!isIdKey(key) || typeof value !== 'number') continue
      if (!Number.isSafeInteger(value)) return JSON.parse(text, keepIdText as (key: string, value: unknown) => unknown)
      members[key] = new NumberText(String(value))
    }
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

/** An id's exact decimal digits, or undefined unless it is a positive integer. */
const idText = (id: unknown): string | undefined =>
  id instanceof NumberText && POSITIVE_INTEGER.test(id.text) ? id.text : undefined

/** Data.SessionID as its exact decimal digits, or undefined unless it is a positive integer. */
export function sessionIdOf (envelope: Envelope): string | undefined {
  const data = envelope.Data
  if (typeof data !== 'object' || data === null) return undefined
  return idText((data as Record<string, unknown>).SessionID)
}

export interface ChatAnswer {
  messageId: string
  content: string
  totalTokens: number | undefined
}

/** A member of Data by its name in any letter case (`messageid`, `messageId`, `MessageID`). */
function member (data: Record<string, unknown>, lowerCaseName: string): unknown {
  const key = Object.keys(data).find((name) => name.toLowerCase() === lowerCaseName)
  return key === undefined ? undefined : data[key]
}

/**
 * A chatbot's whole reply: Data's messageid (a positive integer, exact digits) and content
 * (a string), with totalToken when it is a non-negative integer; undefined when unusable.
 */
export function chatAnswerOf (envelope: Envelope): ChatAnswer | undefined {
  const data = envelope.Data
  if (typeof data !== 'object' || data === null) return undefined
  const fields = data as Record<string, unknown>
  const messageId = idText(member(fields, 'messageid'))
  const content = member(fields, 'content')
  if (messageId === undefined || typeof content !== 'string') return undefined
  const tokens = member(fields, 'totaltoken') ?? member(fields, 'totaltokens')
  return { messageId, content, totalTokens: Number.isSafeInteger(tokens) && (tokens as number) >= 0 ? tokens as number : undefined }
}
