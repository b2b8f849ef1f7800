/**
 * A Messages-API stand-in that drafts and routes deterministically, for trying `routecheck
 * overlap --probe` (and `generate`) offline: `node --import tsx bench/serve-drafter.ts` prints
 * its URL; then `ANTHROPIC_BASE_URL=<url> ANTHROPIC_API_KEY=test routecheck overlap --probe
 * --router anthropic --style template`. Drafting: test/support/drafter.ts's topicalDrafter
 * (prompts naming three words of the agent aimed at); routing: the server's word-overlap rule.
 */
import { startMessagesServer } from '../test/support/messages-server.js'
import { topicalDrafter } from '../test/support/drafter.js'

const server = await startMessagesServer({ tool: topicalDrafter })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
