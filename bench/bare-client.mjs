// The end-to-end floor of the harness case: a plain Node program (no tsx, no
// modules but node's own) that reads the request prefix and the prompts the
// bench wrote, sends each prompt `concurrency` at a time over keep-alive
// node:http, reads each reply whole, and exits. Timed from spawn to exit by
// bench/e2e.ts, it is what any client pays on this machine before doing
// anything of its own: node start, the server, the network.
import http from 'node:http'
import { readFileSync } from 'node:fs'

const [url, inputFile, concurrencyArg] = process.argv.slice(2)
const { prefix, prompts } = JSON.parse(readFileSync(inputFile, 'utf8'))
const concurrency = Number(concurrencyArg)
const target = new URL(`${url}/v1/messages`)
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
// The prefix serialised once; each body is it, the prompt and the closing brackets.
const head = Buffer.from(`${JSON.stringify(prefix).slice(0, -1)},"messages":[{"role":"user","content":`)
const tail = Buffer.from('}]}')

const send = (prompt) =>
  new Promise((resolve, reject) => {
    const body = Buffer.concat([head, Buffer.from(JSON.stringify(prompt)), tail])
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01', 'content-length': body.byteLength } },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`HTTP ${res.statusCode}`))))
      },
    )
    req.on('error', reject)
    req.end(body)
  })

let next = 0
await Promise.all(Array.from({ length: concurrency }, async () => { while (next < prompts.length) await send(prompts[next++]) }))
agent.destroy()
