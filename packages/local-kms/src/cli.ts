#!/usr/bin/env node
/**
 * `kms-envelope-local-kms`: runs the local KMS as an HTTP server on loopback.
 *
 * @example
 * ```sh
 * kms-envelope-local-kms --port 4599 --data-dir .local-kms --seed seed.json
 * AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url http://127.0.0.1:4599 kms list-keys
 * ```
 */
import { parseArgs } from 'node:util'
import { LocalKmsError } from './engine/index.js'
import { LocalKms } from './local-kms.js'

const HELP = `Usage: kms-envelope-local-kms [options]

An embedded AWS KMS with real semantics (key states, key policies, grants), served over the
AWS KMS JSON 1.1 protocol on loopback. Every request must be SigV4-signed.

Options:
  --port <n>                 TCP port (default 4599; 0 picks a free one)
  --host <addr>              interface to bind (default 127.0.0.1; loopback only)
  --allow-non-loopback       allow binding a non-loopback interface (exposes the KMS to the network)
  --data-dir <dir>           persist keys, grants, aliases and audit.log in <dir> (default: memory only)
  --seed <file.json>         seed file: accounts, access keys, keys, aliases, grants (applied idempotently)
  --region <region>          region in key ARNs and SigV4 scopes (default us-east-1)
  --plaintext-key-material   dev only: store key material unsealed in <data-dir>/state.json
  --grant-propagation-ms <n> grant eventual consistency: for <n> ms after CreateGrant a grant works
                             only for requests carrying its grant token (default 0: at once)
  -h, --help                 show this help

Without a seed: account 111122223333, whose root signs with access key "test", secret "test".`

/** Parses argv, starts the server, prints how to reach it, and closes cleanly on SIGINT/SIGTERM. */
async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${HELP}\n`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  const port = Number(values.port ?? '4599')
  // Precondition: a numeric port.
  if (!Number.isInteger(port)) {
    process.stderr.write(`error: --port must be an integer, got ${values.port}\n`)
    return 2
  }

  const propagation = Number(values['grant-propagation-ms'] ?? '0')
  // Precondition: a whole, non-negative number of milliseconds.
  if (!Number.isSafeInteger(propagation) || propagation < 0) {
    process.stderr.write(
      `error: --grant-propagation-ms must be a whole number of milliseconds >= 0, got ${values['grant-propagation-ms']}\n`,
    )
    return 2
  }

  let kms: LocalKms
  try {
    kms = await LocalKms.create({
      ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
      plaintextKeyMaterial: values['plaintext-key-material'] === true,
      ...(propagation > 0 ? { grantPropagationMs: propagation } : {}),
      onInternalError: (err) =>
        process.stderr.write(`local-kms internal error: ${(err as Error)?.stack ?? String(err)}\n`),
    })
  } catch (err) {
    process.stderr.write(`error: ${err instanceof LocalKmsError ? err.message : String(err)}\n`)
    return 1
  }

  let endpoint: string
  try {
    const server = await kms.listen({
      port,
      ...(values.host !== undefined ? { host: values.host } : {}),
      allowNonLoopback: values['allow-non-loopback'] === true,
    })
    endpoint = server.endpoint
  } catch (err) {
    await kms.close()
    process.stderr.write(`error: ${(err as Error).message}\n`)
    return 1
  }

  const storage = [
    values['data-dir'] === undefined ? 'memory only' : `data dir ${values['data-dir']}`,
    ...(propagation > 0 ? [`grants propagate in ${propagation} ms`] : []),
  ].join(', ')
  process.stdout.write(
    [
      `Local KMS listening on ${endpoint} (region ${kms.region}, ${storage})`,
      `Accounts: ${kms.engine
        .accounts()
        .map((a) => `${a.id} (${a.principals.map((p) => p.accessKeyId).join(', ')})`)
        .join('; ')}`,
      'Try:',
      `  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${endpoint} --region ${kms.region} kms list-keys`,
      '',
    ].join('\n'),
  )

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stdout.write(`${signal}: closing the local KMS\n`)
      // A second signal exits at once.
      process.once('SIGINT', () => process.exit(130))
      process.once('SIGTERM', () => process.exit(143))
      kms.close().then(resolve, (err: unknown) => {
        process.stderr.write(`error while closing: ${(err as Error).message}\n`)
        resolve()
      })
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-non-loopback': { type: 'boolean' },
      'data-dir': { type: 'string' },
      seed: { type: 'string' },
      region: { type: 'string' },
      'plaintext-key-material': { type: 'boolean' },
      'grant-propagation-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
