// How production runs our proxy: the node flags of the image's CMD (Dockerfile) and of
// `npm start`, and the image's memory-related environment. The benchmark starts our
// proxy with both; tests keep them equal to the Dockerfile and package.json.
export const PRODUCTION_NODE_ARGS = ['--max-semi-space-size=8', '--heap-growing-percent=25']
export const PRODUCTION_ENV = { MALLOC_ARENA_MAX: '2' }
