/**
 * A Messages-API stand-in whose rewriter is deterministic, for trying `routecheck improve`
 * offline: `node --import tsx bench/serve-rewriter.ts [helpful|harmful]` prints its URL; then
 * `ANTHROPIC_BASE_URL=<url> ANTHROPIC_API_KEY=test routecheck improve`.
 */
import { startMessagesServer } from '../test/support/messages-server.js'
import { harmfulRewriter, helpfulRewriter } from '../test/support/rewriter.js'

const kind = process.argv[2] ?? 'helpful'
const server = await startMessagesServer({ tool: kind === 'harmful' ? harmfulRewriter : helpfulRewriter })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
