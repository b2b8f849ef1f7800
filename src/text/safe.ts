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

/**
 * What Markdown (GitHub's flavour) would read as markup in plain text:
 * backslash, backtick, emphasis (* _), strikethrough (~), link brackets,
 * table pipes, HTML and entities (& < >), line breaks; and what GitHub turns
 * into a notification or a link after rendering, which no backslash stops:
 * @name (a mention) and #123 (an issue).
 */
const MARKDOWN_SPECIAL = /[\\`*_~[\]|&<>]|@(?=[\w-])|#(?=\d)|\r\n|[\r\n]/g
/**
 * A zero-width space as an entity: it parts "@" from the name and "#" from the
 * number in the rendered text, where GitHub looks for mentions and issue
 * references (an escaped "\\@" renders as "@" and is linked all the same), and
 * it shows in report.md's source as what it is.
 */
const ZERO_WIDTH = '&#8203;'
const MARKDOWN_REPLACEMENT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '@': `@${ZERO_WIDTH}`, '#': `#${ZERO_WIDTH}`, '\r\n': ' ', '\r': ' ', '\n': ' ' }
/** What starts a block when it starts a line: a heading, a list item or a setext underline (# + - =), an ordered item (1. or 1)). */
const BLOCK_START = /^[#+=-]|^(\d+)([.)])/

/**
 * User text (agent names, case ids, prompts, descriptions, paths, error
 * messages) as literal Markdown, in a table cell or in a line: one pass of
 * backslash escapes, entities and zero-width breaks, so it renders as it
 * reads, never as emphasis, links, HTML, a second table column, a mention or
 * an issue link. Line breaks fold to spaces (a table row is one line), leading
 * blanks go (they would make code of a line), control characters are dropped.
 * Not for code spans: see markdownCode.
 */
export function markdownText(text: string): string {
  const escaped = text
    .replace(CONTROL, '')
    .replace(/^\s+/, '')
    .replace(MARKDOWN_SPECIAL, (m) => MARKDOWN_REPLACEMENT[m] ?? `\\${m}`)
  // Where the text starts a line (a list item, a line of prose), it must not start a block: its first mark is escaped.
  return escaped.replace(BLOCK_START, (m, digits: string | undefined, mark: string | undefined) => (digits ? `${digits}\\${mark}` : `\\${m}`))
}

/**
 * User text as an inline code span in a line (not a table cell, where a pipe
 * would still end the cell): fenced by one backtick more than its longest run
 * of backticks, padded with a space where it starts or ends with a backtick or
 * a space (CommonMark strips one from each side), line breaks folded.
 */
export function markdownCode(text: string): string {
  const flat = text.replace(CONTROL, '').replace(/\r\n|[\r\n]/g, ' ')
  if (flat.trim() === '') return markdownText(flat)
  const longest = Math.max(0, ...Array.from(flat.matchAll(/`+/g), (m) => m[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = /^[` ]|[` ]$/.test(flat) ? ' ' : ''
  return `${fence}${pad}${flat}${pad}${fence}`
}

/** What counts as a secret: set once per command from its environment (`setSecrets`), applied by `redact` at every sink. */
let secrets: string[] = []

/** Environment variables whose values are credentials. */
const SECRET_VARIABLES = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'GITHUB_TOKEN']

/**
 * Learns the command's credentials: the keys and tokens in its environment,
 * and any user:password in ANTHROPIC_BASE_URL. Values under 8 characters are
 * not treated as secrets (they would redact ordinary words).
 */
export function setSecrets(env: Readonly<Record<string, string | undefined>>): void {
  const found = SECRET_VARIABLES.map((v) => env[v]?.trim() ?? '')
  const base = env.ANTHROPIC_BASE_URL?.trim()
  if (base && URL.canParse(base)) {
    const url = new URL(base)
    found.push(decodeURIComponent(url.password), decodeURIComponent(url.username))
  }
  secrets = [...new Set(found.filter((s) => s.length >= 8))].sort((a, b) => b.length - a.length)
}

/** user[:password]@ in a URL: `redactUrlCredentials` finds what this finds, without trying it at every word of a 50 MB report. */
export const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(?::[^\s/@]*)?@/gi
const HEADER_VALUES = /\b(authorization|x-api-key)(["']?\s*[:=]\s*["']?)(?:bearer\s+)?[^\s"',;}]+/gi

/**
 * Every credential out of a text: the known keys and tokens (as they are and
 * URL-encoded), user:password in any URL, and Authorization / x-api-key
 * values. Applied where text leaves routecheck: stdout and stderr, every file
 * of a run folder, the journal, the baseline. `also` adds secrets a caller
 * holds that the environment may not (a library use with its own token).
 */
export function redact(text: string, also: readonly string[] = []): string {
  let out = text
  const known = also.length === 0 ? secrets : [...new Set([...secrets, ...also.map((s) => s.trim()).filter((s) => s.length >= 8)])].sort((a, b) => b.length - a.length)
  for (const s of known) {
    if (out.includes(s)) out = out.split(s).join('[redacted]')
    const encoded = encodeURIComponent(s)
    if (encoded !== s && out.includes(encoded)) out = out.split(encoded).join('[redacted]')
  }
  return redactUrlCredentials(out).replace(HEADER_VALUES, '$1$2[redacted]')
}

const isSchemeChar = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 // a-z A-Z 0-9 + - .
const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
const isWordChar = (c: number) => isLetter(c) || (c >= 48 && c <= 57) || c === 95
// \s as JavaScript's regular expressions read it
const isSpace = (c: number) => (c >= 9 && c <= 13) || c === 32 || c === 160 || c === 5760 || (c >= 8192 && c <= 8202) || c === 8232 || c === 8233 || c === 8239 || c === 8287 || c === 12288 || c === 65279

/**
 * `text.replace(URL_CREDENTIALS, '$1[redacted]@')`, found from each "://"
 * rather than tried at every word boundary: the regular expression alone
 * took 0.57 s of a 20,000-prompt run's 4 s, scanning reports that hold no
 * URL at all. Same matches, same result (test/secrets.test.ts compares the
 * two on random text).
 */
export function redactUrlCredentials(text: string): string {
  let at = text.indexOf('://')
  if (at === -1) return text
  let out = ''
  let copied = 0 // text before this is in `out`
  while (at !== -1) {
    // The scheme: the leftmost letter at a word boundary from which scheme characters run to "://".
    let start = at
    while (start > copied && isSchemeChar(text.charCodeAt(start - 1))) start--
    let scheme = -1
    for (let p = start; p < at; p++) {
      if (isLetter(text.charCodeAt(p)) && (p === 0 || !isWordChar(text.charCodeAt(p - 1)))) {
        scheme = p
        break
      }
    }
    // Then user, an optional :password, and "@".
    let end = -1
    if (scheme !== -1) {
      let i = at + 3
      const userStart = i
      while (i < text.length && !isSpace(text.charCodeAt(i)) && !'/@:'.includes(text[i]!)) i++
      if (i > userStart) {
        if (text[i] === ':') {
          i++
          while (i < text.length && !isSpace(text.charCodeAt(i)) && !'/@'.includes(text[i]!)) i++
        }
        if (text[i] === '@') end = i + 1
      }
    }
    if (end === -1) {
      at = text.indexOf('://', at + 1)
      continue
    }
    out += `${text.slice(copied, at + 3)}[redacted]@`
    copied = end
    at = text.indexOf('://', end)
  }
  return copied === 0 ? text : out + text.slice(copied)
}
