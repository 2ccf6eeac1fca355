import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { DEFAULT_MAX_CONNECTIONS, maxConnections, openFilesLimitOf, readOpenFilesLimit } from '../../../src/config/connections.ts'

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`

test('the soft open-files limit is read from /proc/self/limits', async (t) => {
  t.equal(openFilesLimitOf(LIMITS), 1024)
  t.equal(openFilesLimitOf(LIMITS.replace('1024  ', 'unlimited')), undefined, 'unlimited tells nothing')
  t.equal(openFilesLimitOf(''), undefined)
  const dir = mkdtempSync(join(tmpdir(), 'limits-'))
  writeFileSync(join(dir, 'limits'), LIMITS)
  t.equal(readOpenFilesLimit(join(dir, 'limits')), 1024)
  t.equal(readOpenFilesLimit(join(dir, 'absent')), undefined, 'a system without the file')
  const own = readOpenFilesLimit()
  t.ok(own === undefined || own > 0, `this process: ${own}`)
})

test('the default is what the limit leaves after the upstream sockets and 64 other descriptors', async (t) => {
  t.same(maxConnections(undefined, 1024, 256), { value: 704 })
  t.same(maxConnections(undefined, 1024 * 64, 256), { value: 65216 })
  t.same(maxConnections(undefined, 96, 16), { value: 16 }, 'exactly the minimum')
  t.same(maxConnections(undefined, undefined, 256), { value: DEFAULT_MAX_CONNECTIONS }, 'a limit the system does not tell')
})

test('a MAX_CONNECTIONS the limit can hold is taken as is, up to exactly the room', async (t) => {
  t.same(maxConnections(500, 1024, 256), { value: 500 })
  t.same(maxConnections(704, 1024, 256), { value: 704 })
  t.same(maxConnections(50_000, undefined, 256), { value: 50_000 })
})

test('a limit without room is a start-up problem that names the variable, the limit and the way out', async (t) => {
  t.same(maxConnections(705, 1024, 256), { problem: 'MAX_CONNECTIONS: the open-files limit (1024) leaves room for at most 704 after UPSTREAM_MAX_CONCURRENCY + MESSAGE_MAX_CONCURRENCY (256) upstream sockets and 64 other descriptors; raise the limit (ulimit -n, the container\'s nofile) or lower MAX_CONNECTIONS' })
  t.match(maxConnections(16, 256, 256), { problem: /leaves room for at most 0 after/ }, 'never a negative room')
  t.same(maxConnections(undefined, 95, 16), { problem: 'MAX_CONNECTIONS: the open-files limit (95) leaves room for fewer than 16 client connections after UPSTREAM_MAX_CONCURRENCY + MESSAGE_MAX_CONCURRENCY (16) upstream sockets and 64 other descriptors; raise the limit (ulimit -n, the container\'s nofile) or lower UPSTREAM_MAX_CONCURRENCY and MESSAGE_MAX_CONCURRENCY' })
})
