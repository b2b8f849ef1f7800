/**
 * Untrusted text (agent names, descriptions, case ids, tags, prompts) never
 * reaches a control channel: a GitHub workflow command, a Markdown table, a
 * terminal. One escaper per channel, applied where text is written to it.
 */

/** C0 controls except tab and newline, DEL, and the C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g
/** Select Graphic Rendition: colour and weight, the only sequences routecheck itself prints. */
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g

/**
 * Text for a terminal or a log: control characters removed, so a name
 * holding ESC sequences cannot move the cursor, retitle the window or hide
 * lines. With `keepColour`, SGR colour sequences survive (routecheck's own
 * paint, and at worst a colour change from a name); nothing else does.
 */
export function terminalText(text: string, keepColour: boolean): string {
  if (!keepColour) return text.replace(CONTROL, '')
  let out = ''
  let last = 0
  for (const m of text.matchAll(SGR)) {
    out += text.slice(last, m.index).replace(CONTROL, '') + m[0]
    last = m.index + m[0].length
  }
  return out + text.slice(last).replace(CONTROL, '')
}

/**
 * Under GitHub Actions every stdout line starting with "::" is a workflow
 * command. Lines routecheck did not mean as one get a zero-width space
 * between the colons, so a prompt or description cannot add annotations,
 * mask values or stop command processing.
 */
export function inertWorkflowLines(text: string): string {
  return text.replace(/^(\s*):(?=:)/gm, '$1:\u200b')
}

/** A workflow command's message: %, CR and LF escaped (GitHub's rules), other control characters dropped (the log renders escapes). */
export function workflowData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(CONTROL, '')
}

/** A workflow command's property value (file=…, title=…): also ":" and ",". */
export function workflowProperty(text: string): string {
  return workflowData(text).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

/** Text inside a Markdown table cell or line: pipes escaped, line breaks folded, HTML inert. */
export function markdownText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n|\r/g, ' ')
    .replace(CONTROL, '')
}
