import { startMessagesServer } from './test/support/messages-server.js'
import { drafter } from './test/support/drafter.js'
const s = await startMessagesServer({ tool: drafter })
console.log(s.url)
process.on('SIGTERM', async () => { await s.close(); process.exit(0) })
setInterval(() => {}, 1 << 30)
