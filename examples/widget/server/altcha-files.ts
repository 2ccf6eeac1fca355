// The ALTCHA widget (npm `altcha`, v3) in the page, served from node_modules on the page's
// own origin: no CDN, no build step. Its "external" build is the one that runs under a
// strict Content-Security-Policy: styles in a stylesheet, proof-of-work workers in files
// of their own (the default build inlines both, which `style-src 'self'` and
// `worker-src 'self'` refuse). Only the SHA worker: the proxy's challenges are SHA-256.
import { fileURLToPath } from 'node:url'

const resolve = (specifier: string): string => fileURLToPath(import.meta.resolve(specifier))

/** The paths bot-check.js loads, and the files they are. */
export const ALTCHA_FILES: Readonly<Record<string, string>> = {
  '/vendor/altcha.js': resolve('altcha/external'),
  '/vendor/altcha.css': resolve('altcha/altcha.css'),
  '/vendor/altcha-sha-worker.js': resolve('altcha/workers/sha')
}
