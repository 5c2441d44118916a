/**
 * The deployments the `cluster` suite measures, as `--deployments` names them: one node on the
 * embedded LevelDB store (`level`), one on MongoDB (`mongodb`), and N nodes on one MongoDB and
 * one Redis (`cluster-N`: `CLUSTER_REDIS_URL` set, so even one node routes through Redis).
 */

export interface Deployment {
  /** the name `--deployments` takes: `level`, `mongodb`, `cluster-2`… */
  name: string
  store: 'level' | 'mongodb'
  redis: boolean
  nodes: number
}

export const MAX_NODES = 8
export const DEFAULT_DEPLOYMENTS = 'level,mongodb,cluster-1,cluster-2,cluster-3'
export const DEPLOYMENT_NAMES = `level, mongodb, cluster-N (N = 1…${MAX_NODES})`

/** `undefined` for a name that is none of them. */
export function parseDeployment (name: string): Deployment | undefined {
  if (name === 'level' || name === 'mongodb') return { name, store: name, redis: false, nodes: 1 }
  const nodes = /^cluster-([1-9])$/.exec(name)?.[1]
  if (nodes === undefined || Number(nodes) > MAX_NODES) return undefined
  return { name, store: 'mongodb', redis: true, nodes: Number(nodes) }
}

/** As the tables show it: `level ×1`, `mongodb ×1`, `mongodb+redis ×3`. */
export function deploymentLabel (d: Deployment): string {
  return `${d.store}${d.redis ? '+redis' : ''} ×${d.nodes}`
}
