/** Starting and stopping the broker's listeners, as promises. */
import type { AddressInfo, Server as NetServer } from 'node:net'
import type { Aedes } from 'aedes'
import type { FastifyInstance } from 'fastify'

export async function listen (server: NetServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return (server.address() as AddressInfo).port
}

export async function listenHttp (app: FastifyInstance, port: number, host: string): Promise<number> {
  await app.listen({ port, host })
  return (app.server.address() as AddressInfo).port
}

/** Stops accepting at once; resolves when the server's last connection is gone. */
export async function closeNet (server: NetServer): Promise<void> {
  if (!server.listening) return
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

export async function closeAedes (aedes: Aedes): Promise<void> {
  await new Promise<void>((resolve) => aedes.close(() => resolve()))
}

export async function closeHttp (app: FastifyInstance): Promise<void> {
  app.server.closeAllConnections?.()
  await app.close()
}
