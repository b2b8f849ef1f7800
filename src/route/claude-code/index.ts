/** The claude-code router: Claude Code itself picks the agent. The SDK is loaded only when a router is created. */
export { createClaudeCodeRouter, type ClaudeCodeOptions, type ClaudeCodeRouter } from './router.js'
export { captureEngineRequest, withPrompt, promptFingerprint, type CapturedRequest } from './capture.js'
export { classifyReply, classifyToolCall, type DecisionKind, type Classified, type ReplyBlock } from './decision-kind.js'
export { bundledClaudeBinary, claudeOnPath, claudeVersion } from './engine.js'
export { listedAgents } from './listing.js'
