import { setTimeout as nodeSleep } from 'node:timers/promises'
import { test } from 'tap'
import { Cancel, sleep } from '../../../src/lib/cancel.ts'

test('a Cancel aborts once, with its first reason, calling each listener once', async (t) => {
  const cancel = new Cancel()
  const calls: string[] = []
  const first = (): void => { calls.push('first') }
  const removed = (): void => { calls.push('removed') }
  cancel.addEventListener('abort', first)
  cancel.addEventListener('abort', removed)
  cancel.addEventListener('abort', () => { calls.push(`second saw ${String(cancel.reason)}`) })
  cancel.removeEventListener('abort', removed)
  cancel.removeEventListener('abort', () => {})
  t.equal(cancel.aborted, false)
  cancel.abort('why')
  cancel.abort('again')
  t.equal(cancel.aborted, true)
  t.equal(cancel.reason, 'why')
  t.same(calls, ['first', 'second saw why'])
  cancel.addEventListener('abort', () => { calls.push('late') })
  cancel.abort('once more')
  t.same(calls, ['first', 'second saw why'], 'a listener added after the abort never runs, like AbortSignal')
})

test('Node APIs that take an AbortSignal accept a Cancel', async (t) => {
  const cancel = new Cancel()
  const waiting = nodeSleep(60_000, undefined, { signal: cancel as unknown as AbortSignal })
  cancel.abort(new Error('stop'))
  await t.rejects(waiting, { name: 'AbortError' })
})

test('sleep resolves after its time, or rejects with the reason when aborted', async (t) => {
  const quiet = new Cancel()
  await t.resolves(sleep(5, quiet))
  const early = new Cancel()
  const waiting = sleep(60_000, early)
  early.abort(new Error('gone'))
  await t.rejects(waiting, { message: 'gone' })
  await t.rejects(sleep(1, early), { message: 'gone' }, 'already aborted: rejects at once')
  const signal = AbortSignal.abort(new Error('native'))
  await t.rejects(sleep(1, signal), { message: 'native' }, 'an AbortSignal works as well')
})

test('an object listener has its handleEvent called, and can be removed like a function', async (t) => {
  const cancel = new Cancel()
  const calls: string[] = []
  const listener = { handleEvent (): void { calls.push(`object saw ${String(cancel.reason)}`) } }
  const removed = { handleEvent (): void { calls.push('removed') } }
  cancel.addEventListener('abort', listener)
  cancel.addEventListener('abort', removed)
  cancel.removeEventListener('abort', removed)
  cancel.abort('why')
  t.same(calls, ['object saw why'])
})
