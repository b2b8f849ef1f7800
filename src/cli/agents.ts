import Table from 'cli-table3'
import { loadAgentFolders, loadWarningText } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { buildCatalogue } from '../load/catalogue.js'
import { diffListings, type AgentsDiff } from '../run/verify-agents.js'
import { estimateTokens } from '../text/tokens.js'
import { defineCommand } from './command.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

export const agentsCommand = defineCommand({
  name: 'agents',
  summary: "list the agents routecheck loads; --verify checks them against Claude Code's own list",
  description: `Lists every Markdown file in the agents folders (subfolders included) with what
routecheck makes of it: the agent's name, its description's token estimate,
and whether it loaded, was dropped (and why, as Claude Code would drop it), or
is no agent file at all (a README), or is shadowed by an agent of the same name
in a folder of higher precedence (--agents given twice: a project's
.claude/agents wins over ~/.claude/agents). With --verify it runs the installed
Claude Code once on the same folders (project folders as its project's
.claude/agents, the user folder as its ~/.claude/agents; offline: against a capture server on
127.0.0.1, no key, no cost) and compares the agents Claude Code lists with the
ones routecheck loads, names and descriptions.`,
  options: pick(['config', 'agents', 'verify', 'claude-bin', 'json', 'no-color']),
  footer: 'Exit codes: 0 ok (with --verify: the two lists agree) · 1 the lists differ · 2 bad input or usage',
  async run(flags, io) {
    const { config } = await loadConfig(flags.config)
    const loaded = await loadAgentFolders(flags.agents ?? config.agents, { skipInvalid: true, env: io.env })
    for (const w of loaded.warnings) io.warn(`warning: ${loadWarningText(w)}\n`)
    const rows = [
      ...loaded.catalogue.agents.map((a) => ({
        name: a.name,
        file: a.file,
        tokens: estimateTokens(a.description),
        status: a.cutAt !== undefined ? `loaded; its description ends at the \`---\` on line ${a.cutAt}, as Claude Code reads it` : a.quotingRetry ? 'loaded (after quoting, as Claude Code retries)' : 'loaded',
      })),
      ...loaded.invalid.map((x) => ({ name: '—', file: `${x.file}:${x.line}`, tokens: undefined, status: `dropped: ${x.reason}` })),
      ...loaded.skipped.map((x) => ({ name: '—', file: x.file, tokens: undefined, status: `skipped: ${x.reason}` })),
      ...loaded.shadowed.map((x) => ({ name: x.name, file: x.file, tokens: undefined, status: `shadowed by ${x.by} (project over user, as in Claude Code)` })),
    ].sort((a, b) => (a.file < b.file ? -1 : 1))
    let diff: AgentsDiff | undefined
    if (flags.verify) {
      // Loaded only here: the engine and through it the Agent SDK.
      const { captureEngineRequest, listedAgents } = await import('../route/claude-code/index.js')
      const capture = await captureEngineRequest(buildCatalogue([]), { agentsFolders: loaded.folders, ...(flags.claudeBin ?? config.claudeCode.bin ? { claudeBin: flags.claudeBin ?? config.claudeCode.bin } : {}), env: { ...io.env } })
      diff = diffListings(loaded.catalogue, listedAgents(capture.body), capture.version)
    }
    if (flags.json) io.out(`${JSON.stringify({ agents: rows, ...(diff ? { verify: diff } : {}) }, null, 2)}\n`)
    else {
      const t = new Table({ head: ['agent', 'file', 'tokens', 'status'], colAligns: ['left', 'left', 'right', 'left'], style: { head: [], border: [], compact: true } })
      for (const r of rows) t.push([r.name, r.file, r.tokens === undefined ? '' : String(r.tokens), r.status])
      const folders = loaded.folders.length > 1 ? ` · from ${loaded.folders.map((f) => `${f.dir} (${f.scope})`).join(', ')}` : ''
      io.out(`${t.toString()}\n${loaded.catalogue.agents.length} loaded · ${loaded.invalid.length} dropped · ${loaded.skipped.length} not agent files${loaded.shadowed.length > 0 ? ` · ${loaded.shadowed.length} shadowed` : ''}${folders}\n`)
      if (diff) io.out(`${verifyText(diff, loaded.catalogue.agents.length)}\n`)
    }
    return diff && !diff.agree ? EXIT.gateFailed : EXIT.ok
  },
})

function verifyText(d: AgentsDiff, loaded: number): string {
  const head = `Claude Code ${d.claudeCodeVersion} lists ${loaded - d.onlyRoutecheck.length + d.onlyClaudeCode.length} of the folder's agents (besides its own ${d.builtins.join(', ')}); routecheck loads ${loaded}.`
  if (d.agree) return `${head}\nverify: the same agents with the same descriptions. diff: empty`
  const lines = [head, 'verify: the lists differ (routecheck would route over a catalogue Claude Code does not show):']
  if (d.onlyRoutecheck.length > 0) lines.push(`  only routecheck loads: ${d.onlyRoutecheck.join(', ')}`)
  if (d.onlyClaudeCode.length > 0) lines.push(`  only Claude Code lists: ${d.onlyClaudeCode.join(', ')}`)
  for (const x of d.descriptionDiffers) lines.push(`  ${x.name}: routecheck reads "${x.routecheck.slice(0, 80)}", Claude Code lists "${x.claudeCode.slice(0, 80)}"`)
  return lines.join('\n')
}
