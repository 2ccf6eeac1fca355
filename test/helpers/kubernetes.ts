// deploy/kubernetes/ rendered and validated offline: `kubectl kustomize` (a system program,
// like redis-server: missing, the test fails with how to install it) and the Kubernetes API
// schemas that the kubernetes-models packages carry as compiled validators.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { parseAllDocuments } from 'yaml'
import { findExecutable } from './system-binaries.ts'

export const KUBERNETES_DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url))

/** kustomize v5 (kubectl 1.27+) renders components and the `labels` field the manifests use. */
const MIN_KUBECTL_MINOR = 27

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string, namespace?: string, labels?: Record<string, string>, annotations?: Record<string, string> }
  [field: string]: unknown
}

let kubectl: string | undefined

/** kubectl, checked once: present and new enough, or an error that says how to get it. */
export function requireKubectl (): string {
  if (kubectl !== undefined) return kubectl
  const wanted = process.env.KUBECTL_PATH ?? 'kubectl'
  const found = findExecutable(wanted)
  const hint = `These tests need kubectl 1.${MIN_KUBECTL_MINOR} or newer and do not skip: install it from the ` +
    'Kubernetes project\'s packages (Debian\'s own kubernetes-client is 1.20, too old for kustomize ' +
    'components), or set KUBECTL_PATH to the executable.'
  if (found === undefined) throw new Error(`kubectl is not installed: no executable ${JSON.stringify(wanted)}. ${hint}`)
  const { clientVersion } = JSON.parse(execFileSync(found, ['version', '--client', '--output=json'], { encoding: 'utf8' })) as { clientVersion: { major: string, minor: string } }
  const minor = Number.parseInt(clientVersion.minor, 10)
  if (clientVersion.major !== '1' || minor < MIN_KUBECTL_MINOR) throw new Error(`kubectl ${clientVersion.major}.${clientVersion.minor} is too old. ${hint}`)
  kubectl = found
  return found
}

/** `kubectl kustomize` of a directory (relative to deploy/kubernetes/), as objects. */
export function render (directory: string): KubeObject[] {
  return renderPath(join(KUBERNETES_DIR, directory))
}

function renderPath (path: string): KubeObject[] {
  const output = execFileSync(requireKubectl(), ['kustomize', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return parseAllDocuments(output).map((document) => document.toJS() as KubeObject)
}

/**
 * An overlay as an operator composes it: `resources` and `components` of deploy/kubernetes/
 * and patches of its own in a kustomization of its own (kustomize takes only relative
 * paths, so it lives in a temporary directory and names them from there).
 */
export function renderComposed (resources: string[], components: string[], namespace: string, patches: string[] = []): KubeObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'kustomize-'))
  try {
    const from = (path: string): string => relative(dir, join(KUBERNETES_DIR, path))
    patches.forEach((patch, index) => writeFileSync(join(dir, `patch-${index}.yaml`), patch))
    writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace,
      resources: resources.map(from),
      components: components.map(from),
      patches: patches.map((_patch, index) => ({ path: `patch-${index}.yaml` }))
    }))
    return renderPath(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Validatable { validate: () => void }
type ModelClass = new (data: unknown) => Validatable

/** Models by API group: Kubernetes' own, and the Prometheus operator's CRDs. */
function modelModule (apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
  return `kubernetes-models/${apiVersion}/${kind}`
}

/**
 * Throws unless the object is valid against its kind's schema: types, required fields,
 * enums and formats. An object of a kind no package models is an error, not a pass.
 * (The schemas, like the API's own OpenAPI, do not refuse unknown fields: unknownFields does.)
 */
export async function validateObject (object: KubeObject): Promise<void> {
  let Model: ModelClass | undefined
  try {
    Model = ((await import(modelModule(object.apiVersion, object.kind))) as Record<string, ModelClass>)[object.kind]
  } catch {}
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`)
  new Model(object).validate()
}

/**
 * Fields no schema knows: what `kubeconform -strict` and the API server's strict field
 * validation refuse, and what the compiled validators above let through (the OpenAPI
 * schemas do not close their objects). The kubernetes-models types are generated from the
 * same schemas, so each object is written as a TypeScript literal of its kind's type and
 * the compiler's excess-property check names unknown fields at any depth (the first of
 * each object literal). Returns one message per field found, naming the object; none
 * when all are known. Type errors the compiler finds on the way are returned as well.
 */
export function unknownFields (objects: KubeObject[]): string[] {
  const labels = objects.map((o) => `${o.kind}/${o.metadata.name}`)
  const source = objects.map((object, index) =>
    `import type { I${object.kind} as T${index} } from '${modelModule(object.apiVersion, object.kind)}'\n` +
    `export const o${index}: T${index} = ${JSON.stringify(object)}\n`).join('')
  // A file that is never written: it only has to sit where node_modules is found.
  const file = join(KUBERNETES_DIR, '..', '..', 'test', 'kubernetes-objects.generated.ts')
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version, ...rest) => name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => name === file || fileExists(name)
  const program = ts.createProgram([file], options, host)
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line = diagnostic.file?.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line ?? 0
    const label = diagnostic.file?.fileName === file ? labels[Math.floor(line / 2)] : diagnostic.file?.fileName
    return `${label ?? 'the generated file'}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`
  })
}

const QUANTITY_UNITS: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }

/** A resource quantity ("500m", "256Mi", "1") as a number of cores or bytes. */
export function quantity (text: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?$/.exec(String(text))
  if (match === null) throw new Error(`not a quantity this test reads: ${String(text)}`)
  return Number(match[1]) * QUANTITY_UNITS[match[2] ?? '']!
}

/** Whether every label a selector asks for is on the given labels (and it asks for some). */
export function selects (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(selector ?? {})
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value)
}
