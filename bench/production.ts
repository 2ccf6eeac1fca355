// How production runs our proxy: the node flags of the image's CMD (Dockerfile) and of
// `npm start`. The benchmark starts our proxy with them; a test keeps the three equal.
export const PRODUCTION_NODE_ARGS = ['--max-semi-space-size=8', '--heap-growing-percent=25']
