// An OTLP/HTTP trace receiver on loopback, in the test's own process: the real exporter
// sends to it, and tests read back every byte it got and the spans those bytes held.
// OTLP/JSON bodies are decoded (ids are hex, as the OTLP/JSON encoding says); any other
// body is kept as bytes only.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export type AttributeValue = string | number | boolean

export interface ExportedSpan {
  traceId: string
  spanId: string
  /** '' for a root span. */
  parentSpanId: string
  name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  kind: number
  attributes: Record<string, AttributeValue>
  serviceName: string
}

export interface Collector {
  /** Where OTEL_EXPORTER_OTLP_TRACES_ENDPOINT points. */
  url: string
  /** Every request body received, byte for byte. */
  bodies: Buffer[]
  /** Every span of every OTLP/JSON body, in the order received. */
  spans: () => ExportedSpan[]
  close: () => Promise<void>
}

interface JsonAttribute { key: string, value: { stringValue?: string, intValue?: number | string, boolValue?: boolean, doubleValue?: number } }
interface JsonSpan { traceId: string, spanId: string, parentSpanId?: string, name: string, kind: number, attributes?: JsonAttribute[] }
interface JsonExport { resourceSpans: Array<{ resource: { attributes: JsonAttribute[] }, scopeSpans: Array<{ spans: JsonSpan[] }> }> }

function attributesOf (list: JsonAttribute[] = []): Record<string, AttributeValue> {
  return Object.fromEntries(list.map(({ key, value }) => [
    key,
    value.stringValue ?? value.boolValue ?? value.doubleValue ?? Number(value.intValue)
  ]))
}

function spansOf (body: JsonExport): ExportedSpan[] {
  return body.resourceSpans.flatMap(({ resource, scopeSpans }) => {
    const serviceName = String(attributesOf(resource.attributes)['service.name'])
    return scopeSpans.flatMap(({ spans }) => spans.map((span) => ({
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId ?? '',
      name: span.name,
      kind: span.kind,
      attributes: attributesOf(span.attributes),
      serviceName
    })))
  })
}

export async function startCollector (): Promise<Collector> {
  const bodies: Buffer[] = []
  const decoded: ExportedSpan[][] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      bodies.push(body)
      if (req.headers['content-type'] === 'application/json') decoded.push(spansOf(JSON.parse(body.toString('utf8')) as JsonExport))
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end(req.headers['content-type'] === 'application/json' ? '{}' : '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    spans: () => decoded.flat(),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
