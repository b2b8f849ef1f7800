import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

import type { MessagesServer } from '../test/support/messages-server.js'

export type ServerCounts = ReturnType<MessagesServer['counts']> & ReturnType<MessagesServer['traffic']>

/**
 * Starts bench/serve.ts (or another server script of bench/) in another process, so the
 * server's work does not share the client's event loop. `stop` resolves with the server's counts
 * (bench/serve.ts prints them as it exits).
 */
export async function startServer(delayMs: number, script = 'serve.ts', args: readonly string[] = []): Promise<{ url: string; stop: () => Promise<ServerCounts | undefined> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), String(delayMs), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const first = out === ''
      out += d.toString()
      if (first) resolve(out.split('\n')[0]!.trim())
    })
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    url,
    async stop() {
      child.kill('SIGTERM')
      await exited
      const last = out.trim().split('\n').slice(1).at(-1)
      return last ? (JSON.parse(last) as ServerCounts) : undefined
    },
  }
}
