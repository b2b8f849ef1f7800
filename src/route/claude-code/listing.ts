/**
 * The agents Claude Code offers in a routing request: its `<system-reminder>`
 * "Available agent types for the Agent tool:", one "- name: description
 * (Tools: …)" entry each. Descriptions span lines and may hold "- " bullets
 * of their own, so an entry starts only after the header or after a line
 * that closes the previous entry with its "(Tools: …)".
 */
export const AGENT_LISTING = 'Available agent types for the Agent tool:'

export function listedAgents(body: unknown): Array<{ name: string; description: string }> {
  const listing = listingText(body)
  if (listing === undefined) return []
  const entries: Array<{ name: string; lines: string[] }> = []
  let open = true // after the header, or after an entry's "(Tools: …)": only a new entry may follow
  for (const line of listing.split('\n')) {
    const start: RegExpExecArray | null = open ? /^- (\S+): (.*)$/.exec(line) : null
    if (start) entries.push({ name: start[1]!, lines: [start[2]!] })
    else if (!open) entries.at(-1)?.lines.push(line)
    // Text after a closed entry that starts none (the closing advice) belongs to no agent.
    if (start || !open) open = /\(Tools: [^()]*\)\s*$/.test(line)
  }
  return entries.map(({ name, lines }) => ({ name, description: lines.join('\n').replace(/\s*\(Tools: [^()]*\)\s*$/, '').trim() }))
}

function listingText(body: unknown): string | undefined {
  const messages = (body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages ?? []
  for (const m of messages) {
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Array<{ type?: string; text?: string }>) : []
    for (const b of blocks) {
      const at = b.type === 'text' ? (b.text?.indexOf(AGENT_LISTING) ?? -1) : -1
      if (at >= 0) return b.text!.slice(at + AGENT_LISTING.length).split('</system-reminder>')[0]!.replace(/^\n/, '')
    }
  }
  return undefined
}
