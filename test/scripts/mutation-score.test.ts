// The mutation score gate: per module, killed and timed-out over valid mutants, and a
// failure for any module under the threshold.
import { test } from 'tap'
import { failing, markdownTable, scoresOf, THRESHOLD } from '../../scripts/mutation-score.ts'
import type { Report } from '../../scripts/mutation-score.ts'

const mutants = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([status, n]) => Array.from({ length: n }, () => ({ status })))

const report = {
  files: {
    'src/b.ts': { mutants: mutants({ Killed: 8, Timeout: 1, Survived: 1, CompileError: 40, Ignored: 3 }) },
    'src/a.ts': { mutants: mutants({ Killed: 5, NoCoverage: 2, Survived: 1, RuntimeError: 1 }) },
    'src/types.ts': { mutants: mutants({ CompileError: 4 }) }
  }
} as Report

test('a module\'s score is killed and timed out over killed, timed out, survived and uncovered', async (t) => {
  t.same(scoresOf(report), [
    { module: 'src/a.ts', killed: 5, timedOut: 0, survived: 1, noCoverage: 2, score: 62.5 },
    { module: 'src/b.ts', killed: 8, timedOut: 1, survived: 1, noCoverage: 0, score: 90 },
    { module: 'src/types.ts', killed: 0, timedOut: 0, survived: 0, noCoverage: 0, score: undefined }
  ])
})

test('modules under the threshold fail; one without valid mutants does not', async (t) => {
  t.equal(THRESHOLD, 85)
  t.same(failing(scoresOf(report)).map((s) => s.module), ['src/a.ts'])
  const atThreshold = { files: { 'src/c.ts': { mutants: mutants({ Killed: 17, Survived: 3 }) } } } as Report
  t.same(failing(scoresOf(atThreshold)), [], '85 % exactly passes')
})

test('the table has one row per module, with the score to one decimal', async (t) => {
  const table = markdownTable(scoresOf(report)).split('\n')
  t.equal(table.length, 5)
  t.equal(table[2], '| `src/a.ts` | 62.5 % | 5 | 0 | 1 | 2 |')
  t.equal(table[4], '| `src/types.ts` | – | 0 | 0 | 0 | 0 |')
})
