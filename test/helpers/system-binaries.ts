// Finds the system programs (Debian packages, not npm) that some tests drive for real.
// A missing program fails the test with the way to install it: these tests never skip.
import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

export const INSTALL_SCRIPT = 'scripts/ci/install-system-packages.sh'

/** The absolute path of an executable, given as a path or a name looked up on PATH. */
export function findExecutable (nameOrPath: string): string | undefined {
  const candidates = isAbsolute(nameOrPath) || nameOrPath.includes('/')
    ? [nameOrPath]
    : (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, nameOrPath))
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Like findExecutable, but throws a message that says how to install the package. */
export function requireExecutable (nameOrPath: string, what: string, envVar: string): string {
  const found = findExecutable(nameOrPath)
  if (found === undefined) {
    throw new Error(`${what} is not installed: no executable ${JSON.stringify(nameOrPath)}` +
      `${nameOrPath.includes('/') ? '' : ' on PATH'}. These tests need it and do not skip: ` +
      `run \`sudo ${INSTALL_SCRIPT}\` (Debian 12), or set ${envVar} to the executable.`)
  }
  return found
}
