// Checks real responses against the OpenAPI document: the status must be documented for
// the operation (or, for unknown URLs and methods, be the router's 404/405, which the
// document describes in words in `info.description`: a Problem of that code),
// the media type listed, the body valid against the documented schema (Ajv 2020, the
// dialect of OpenAPI 3.1) and every documented header present when required and valid.
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ValidateFunction } from 'ajv/dist/2020.js'
import type { LightMyRequestResponse } from 'fastify'

interface HeaderObject { schema: object, required?: boolean }
interface ResponseObject { headers?: Record<string, HeaderObject>, content?: Record<string, { schema: object }> }
interface Operation { responses: Record<string, ResponseObject> }
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, object> }
  [key: string]: unknown
}

const DOCUMENT_ID = 'urn:hottask-proxy:openapi'

const requestIdHeader: HeaderObject = { schema: { type: 'string' }, required: true }

/** A Problem of one code, as `info.description` describes the router's answers. */
const routerAnswer = (code: string, status: number, headers: Record<string, HeaderObject> = {}): ResponseObject => ({
  headers: { 'X-Request-Id': requestIdHeader, ...headers },
  content: {
    'application/problem+json': {
      schema: { type: 'object', allOf: [{ $ref: '#/components/schemas/Problem' }], properties: { code: { const: code }, status: { const: status } } }
    }
  }
})

const ROUTER: Record<string, ResponseObject> = {
  NotFound: routerAnswer('NOT_FOUND', 404),
  MethodNotAllowed: routerAnswer('METHOD_NOT_ALLOWED', 405, { Allow: { schema: { type: 'string' }, required: true } })
}

const pointer = (...parts: string[]): string => '#/' + parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')

export class Contract {
  readonly document: OpenApiDocument
  readonly #bodies = new Ajv2020({ strict: true, allErrors: true })
  // Header values are strings on the wire; their schemas describe the parsed value.
  readonly #headers = new Ajv2020({ strict: true, allErrors: true, coerceTypes: true })
  readonly #compiled = new Map<string, ValidateFunction>()

  constructor (document: OpenApiDocument) {
    this.document = document
    // Component refs (`#/components/schemas/Problem`) resolve inside this one schema resource.
    this.#bodies.addKeyword('components').addKeyword('paths').addKeyword('router')
    this.#bodies.addSchema({ $id: DOCUMENT_ID, components: document.components, paths: document.paths, router: ROUTER })
  }

  /** The documented response and its JSON pointer for a request's path, method and status. */
  locate (path: string, method: string, status: number): { response: ResponseObject, at: string[] } | undefined {
    const operation = this.document.paths[path]?.[method.toLowerCase()]
    if (operation !== undefined) {
      const response = operation.responses[String(status)]
      return response === undefined ? undefined : { response, at: ['paths', path, method.toLowerCase(), 'responses', String(status)] }
    }
    const shared = this.document.paths[path] === undefined ? (status === 404 ? 'NotFound' : undefined) : (status === 405 ? 'MethodNotAllowed' : undefined)
    if (shared === undefined) return undefined
    return { response: ROUTER[shared]!, at: ['router', shared] }
  }

  /** Every way the response departs from the document (none when it conforms). */
  violations (path: string, method: string, res: LightMyRequestResponse): string[] {
    const found = this.locate(path, method, res.statusCode)
    if (found === undefined) return [`status ${res.statusCode} is not documented for ${method} ${path}`]
    const problems: string[] = []
    const mediaType = String(res.headers['content-type']).split(';')[0]!.trim()
    if (found.response.content?.[mediaType] === undefined) {
      problems.push(`media type ${mediaType} is not documented`)
    } else {
      const validate = this.#body(pointer(...found.at, 'content', mediaType, 'schema'))
      if (!validate(res.json())) problems.push(`body: ${this.#bodies.errorsText(validate.errors)}`)
    }
    for (const [name, header] of Object.entries(found.response.headers ?? {})) {
      const value = res.headers[name.toLowerCase()]
      if (value === undefined) {
        if (header.required === true) problems.push(`required header ${name} is missing`)
        continue
      }
      const validate = this.#headers.compile({ type: 'object', properties: { value: header.schema } })
      if (!validate({ value })) problems.push(`header ${name}: ${String(value)}: ${this.#headers.errorsText(validate.errors)}`)
    }
    return problems
  }

  #body (at: string): ValidateFunction {
    let validate = this.#compiled.get(at)
    if (validate === undefined) {
      validate = this.#bodies.compile({ $ref: DOCUMENT_ID + at })
      this.#compiled.set(at, validate)
    }
    return validate
  }
}
