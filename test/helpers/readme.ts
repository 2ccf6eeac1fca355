// Reads the README's Markdown tables, so tests can hold the docs and the code in step.
import { readFileSync } from 'node:fs'

export const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** The rows of the first table after the given heading, as arrays of trimmed cells. */
export function tableAfter (heading: string, text = README): string[][] {
  const start = text.indexOf(heading)
  if (start === -1) throw new Error(`no heading ${heading}`)
  const lines = text.slice(start).split('\n')
  const first = lines.findIndex((line) => line.startsWith('|'))
  const rows: string[][] = []
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.slice(1, -1).split(' | ').map((cell) => cell.trim()))
  }
  return rows
}

export const unquote = (cell: string): string => cell.replace(/^`|`$/g, '')
