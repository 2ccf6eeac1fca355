// Regenerates openapi.json, the committed OpenAPI document: what GET /openapi.json serves
// under the default configuration, so frontend teams can generate clients without running
// the service. `node scripts/openapi.ts [path]` (default: openapi.json at the repo root).
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.json', import.meta.url))

/** The default configuration: only the required key, a placeholder that is never used. */
const DEFAULT_ENV = { HOTTASK_API_KEY: 'placeholder-never-sent-0123456789', LOG_LEVEL: 'silent' }

export async function defaultDocument (): Promise<string> {
  const app = await buildApp(loadConfig(DEFAULT_ENV))
  try {
    return (await app.inject({ method: 'GET', url: '/openapi.json' })).body
  } finally {
    await app.close()
  }
}

if (import.meta.main) {
  const target = process.argv[2] ?? OPENAPI_PATH
  writeFileSync(target, await defaultDocument())
  process.stdout.write(`wrote ${target}\n`)
}
