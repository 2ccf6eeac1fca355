import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['node_modules', '.tap', 'coverage', 'bench/results', 'reports', '.stryker-tmp']
})
