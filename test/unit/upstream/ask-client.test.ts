import { test } from 'tap'
import { Cancel } from '../../../src/lib/cancel.ts'
import { askBody, createAskClient, MAX_ANSWER_BYTES, MAX_STREAM_ENVELOPE_BYTES } from '../../../src/upstream/ask-client.ts'
import { startSimulator } from '../../../simulator/server.ts'

test('the upstream body: the id as a JSON number with its digits, the content exactly, the stream flag', async (t) => {
  t.equal(askBody('9007199254740993123', 'a "b"\n😀', true), '{"sessionID":9007199254740993123,"content":"a \\"b\\"\\n😀","stream":true}')
  t.same(JSON.parse(askBody('5', '\u2028\u0000', false)), { sessionID: 5, content: '\u2028\u0000', stream: false })
})

test('one ClientAsk with the GetSession headers; a whole request is read whole even if the upstream streams', async (t) => {
  const upstream = await startSimulator({ key: 'ask-key-0123456789' })
  const client = createAskClient({ baseUrl: upstream.url, userAgent: 'hottask-proxy/test', timeoutMs: 1000, streamIdleMs: 1000, streamMaxMs: 5000, connections: 2 })
  t.teardown(async () => { await client.close(); await upstream.close() })
  const result = await client.ask({ sessionId: '12', content: 'sim:chunks-3-5', stream: false, requestId: 'rid-1', key: 'ask-key-0123456789', secrets: [] }, new Cancel())
  t.equal(result.kind, 'answer', 'without stream the answer is read whole')
  const sent = upstream.requests.at(-1)!
  t.same([sent.url, sent.headers.authorization, sent.headers['x-request-id'], sent.headers['user-agent'], sent.headers['content-type'], sent.headers.accept],
    ['/chat/Chat/ClientAsk', 'ask-key-0123456789', 'rid-1', 'hottask-proxy/test', 'application/json', 'application/json'])
  const streamed = await client.ask({ sessionId: '12', content: 'hello', stream: true, requestId: 'rid-2', key: 'ask-key-0123456789', secrets: [] }, new Cancel())
  t.equal(streamed.kind, 'stream')
  if (streamed.kind === 'stream') await streamed.body.toArray()
  t.same([MAX_ANSWER_BYTES, MAX_STREAM_ENVELOPE_BYTES], [262144, 65536], 'the contract\'s limits')
})
