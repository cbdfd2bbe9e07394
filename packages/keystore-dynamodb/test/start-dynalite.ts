// Start a real DynamoDB implementation (dynalite, in memory) on loopback with a random port, for tests.
import type { AddressInfo } from 'node:net'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'

export interface RunningDynalite {
  readonly endpoint: string
  client(): DynamoDBClient
  close(): Promise<void>
}

export async function startDynalite(): Promise<RunningDynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clients: DynamoDBClient[] = []
  return {
    endpoint,
    client() {
      const c = new DynamoDBClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      })
      clients.push(c)
      return c
    },
    async close() {
      for (const c of clients) c.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
