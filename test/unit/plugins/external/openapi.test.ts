// The OpenAPI plugin on a bare Fastify: what it adds to every operation (X-Request-Id in
// and out) keeps what each route documents itself.
import Fastify from 'fastify'
import { test } from 'tap'
import { registerOpenApi } from '../../../../src/plugins/external/openapi.ts'

interface Parameter { in: string, name: string, required?: boolean, description?: string }
interface Document {
  paths: Record<string, Record<string, { parameters?: Parameter[], responses: Record<string, { headers?: Record<string, { required?: boolean, schema: Record<string, unknown> }> }> }>>
}

async function documentOf (route: (app: ReturnType<typeof Fastify>) => void): Promise<Document> {
  const app = Fastify()
  await registerOpenApi(app, { version: '1.0.0', license: 'UNLICENSED', sessionBodyOptional: false })
  route(app)
  await app.ready()
  try {
    return app.swagger() as unknown as Document
  } finally {
    await app.close()
  }
}

test('the headers a route reads are documented beside X-Request-Id, required where the route requires them', async (t) => {
  const document = await documentOf((app) => {
    app.post('/things', {
      schema: {
        headers: {
          type: 'object',
          required: ['thing-token'],
          properties: {
            'thing-token': { type: 'string', description: 'Names the thing.' },
            'idempotency-key': { type: 'string', description: 'Makes it safe to repeat.' }
          }
        },
        response: { 200: { type: 'object', headers: { 'Cache-Control': { type: 'string', required: true } } } }
      }
    }, async () => ({}))
  })
  const { parameters, responses } = document.paths['/things']!.post!
  t.same(parameters?.map(({ name, required, description }) => ({ name, required, description })), [
    { name: 'X-Request-Id', required: false, description: 'Your id for this request, echoed in the response, the logs and the upstream call when it matches `^[A-Za-z0-9._-]{1,64}$`; otherwise a fresh UUID is used.' },
    { name: 'thing-token', required: true, description: 'Names the thing.' },
    { name: 'idempotency-key', required: false, description: 'Makes it safe to repeat.' }
  ])
  const headers = responses['200']!.headers!
  t.same(Object.keys(headers), ['X-Request-Id', 'Cache-Control'], 'every answer names its X-Request-Id')
  t.equal(headers['Cache-Control']!.required, true, 'required is the header object\'s, not its schema\'s')
  t.equal(headers['Cache-Control']!.schema.required, undefined)
})

test('a route that reads no header still takes X-Request-Id', async (t) => {
  const document = await documentOf((app) => { app.get('/plain', async () => 'ok') })
  t.same(document.paths['/plain']!.get!.parameters?.map(({ in: where, name }) => [where, name]), [['header', 'X-Request-Id']])
})
