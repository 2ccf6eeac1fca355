// Reads Stryker's JSON report and holds every mutated module to the threshold: the score
// of a module is its killed and timed-out mutants over all its valid mutants (mutants
// that do not compile, or were ignored, count for nothing). Prints one Markdown row per
// module, for docs/testing.md, and exits 1 when a module is below the threshold, so CI
// fails when a change leaves behaviour untested.
//
// Usage: node scripts/mutation-score.ts [report.json] (default reports/mutation/mutation.json)
import { readFileSync } from 'node:fs'

export const THRESHOLD = 85

/** Mutant statuses of the mutation-testing-report-schema. */
type Status = 'Killed' | 'Timeout' | 'Survived' | 'NoCoverage' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending'

export interface Report {
  files: Record<string, { mutants: Array<{ status: Status }> }>
}

export interface ModuleScore {
  module: string
  killed: number
  timedOut: number
  survived: number
  noCoverage: number
  /** Percent, or undefined when the module has no valid mutant. */
  score: number | undefined
}

export function scoresOf (report: Report): ModuleScore[] {
  return Object.entries(report.files).map(([module, { mutants }]) => {
    const count = (status: Status): number => mutants.filter((mutant) => mutant.status === status).length
    const killed = count('Killed')
    const timedOut = count('Timeout')
    const survived = count('Survived')
    const noCoverage = count('NoCoverage')
    const valid = killed + timedOut + survived + noCoverage
    return { module, killed, timedOut, survived, noCoverage, score: valid === 0 ? undefined : (killed + timedOut) / valid * 100 }
  }).sort((a, b) => a.module.localeCompare(b.module))
}

export function markdownTable (scores: ModuleScore[]): string {
  const rows = scores.map((s) =>
    `| \`${s.module}\` | ${s.score === undefined ? '–' : s.score.toFixed(1) + ' %'} | ${s.killed} | ${s.timedOut} | ${s.survived} | ${s.noCoverage} |`)
  return ['| module | score | killed | timed out | survived | no coverage |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n')
}

/** The modules under the threshold. */
export const failing = (scores: ModuleScore[]): ModuleScore[] =>
  scores.filter((s) => s.score !== undefined && s.score < THRESHOLD)

if (import.meta.main) {
  const path = process.argv[2] ?? 'reports/mutation/mutation.json'
  const scores = scoresOf(JSON.parse(readFileSync(path, 'utf8')) as Report)
  process.stdout.write(markdownTable(scores) + '\n')
  const below = failing(scores)
  if (below.length > 0) {
    process.stderr.write(`mutation score below ${THRESHOLD} % in: ${below.map((s) => s.module).join(', ')}\n`)
    process.exit(1)
  }
  process.stdout.write(`every module at or above ${THRESHOLD} %\n`)
}
