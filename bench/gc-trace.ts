// What a server allocated and promoted, from V8's own trace of its collections. With
// `--trace-gc --trace-gc-nvp` V8 writes one line per collection to stdout, as name=value
// pairs: `gc=s` (a scavenge of the young generation) or `gc=mc` (a full mark-compact),
// `allocated=` bytes allocated since the previous collection, `promoted=` bytes moved to
// the old generation, `new_space_survived=` bytes that survived in the young generation,
// `pause=` milliseconds the program was stopped. V8 flushes each line, so the part of the
// file written between two moments is exactly the collections between them.

export const GC_TRACE_ARGS = ['--trace-gc', '--trace-gc-nvp']

export interface GcTotals {
  scavenges: number
  markCompacts: number
  /** Bytes, summed over the collections. */
  allocated: number
  promoted: number
  survived: number
  pauseMs: number
}

/** `[pid:isolate:thread]   123 ms: ` opens every line of V8's trace. */
const TRACE_LINE = /^\[\d+:0x[0-9a-f]+(?::\d+)?\]\s+[\d.]+ ms: /
const FIELD = /(?:^|\s)(gc|allocated|promoted|new_space_survived|pause)=(\S+)/g

/** Sums every collection line in `text`; other lines (the server's own logs) are ignored. */
export function gcTotals (text: string): GcTotals {
  const totals: GcTotals = { scavenges: 0, markCompacts: 0, allocated: 0, promoted: 0, survived: 0, pauseMs: 0 }
  for (const line of text.split('\n')) {
    if (!TRACE_LINE.test(line)) continue
    const fields = new Map([...line.matchAll(FIELD)].map((m) => [m[1]!, m[2]!]))
    const kind = fields.get('gc')
    if (kind === undefined) continue
    if (kind === 's') totals.scavenges++
    else totals.markCompacts++
    totals.allocated += Number(fields.get('allocated') ?? 0)
    totals.promoted += Number(fields.get('promoted') ?? 0)
    totals.survived += Number(fields.get('new_space_survived') ?? 0)
    totals.pauseMs += Number(fields.get('pause') ?? 0)
  }
  return totals
}
