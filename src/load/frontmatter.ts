import { parse as parseYaml, YAMLParseError } from 'yaml'

/**
 * Claude Code's reading of a subagent file, rule for rule (DESIGN "Agent files"),
 * so the harness routes over exactly what Claude Code would show its model.
 */

export type Frontmatter = {
  data: Record<string, unknown>
  body: string
  /** true when strict YAML failed and the quoting retry made it parse */
  quotingRetry: boolean
  /** the 1-based file line of each top-level key, for messages */
  keyLines: Record<string, number>
  /** the line where a `---` inside a value ended the frontmatter early, as Claude Code reads it */
  cutAt?: number
  /** the 1-based line of the closing `---`: the body starts on the next one */
  closeLine: number
}

export type FrontmatterFailure = { line: number; reason: string; fix: string }

const FENCE = /^---\s*$/
const TOP_LEVEL_PAIR = /^([A-Za-z_][\w-]*):[ \t]+(.+?)\s*$/
// Characters that make a plain YAML scalar mean something else (DESIGN, step 2).
const NEEDS_QUOTES = /[{}[\]*&#!|>%@`]|: /

/** The reason a file is not an agent file at all (a README, notes): Claude Code passes over it. */
export const NO_FRONTMATTER = 'the file does not start with a `---` frontmatter line'

export function readFrontmatter(text: string): Frontmatter | FrontmatterFailure {
  const clean = text.replace(/^\uFEFF/, '')
  const firstBreak = clean.search(/\r?\n/)
  if (firstBreak === -1 || !FENCE.test(clean.slice(0, firstBreak))) {
    return { line: 1, reason: NO_FRONTMATTER, fix: 'begin the file with `---`, then `name:` and `description:` lines, then `---`' }
  }
  // Claude Code ends the frontmatter at the first `---` after the opening line, even inside a value
  // ("foo---bar" reads as "foo"; `routecheck agents --verify` shows it), so routecheck does too.
  const rest = clean.slice(firstBreak + (clean[firstBreak] === '\r' ? 2 : 1))
  const close = rest.indexOf('---')
  // A NUL byte in the frontmatter: Claude Code drops the file (`routecheck agents --verify` shows it), where
  // the yaml package would read on. It is the mark of a binary file, or of text saved as UTF-16.
  const nul = rest.slice(0, close === -1 ? undefined : close).indexOf('\0')
  if (nul !== -1) {
    return {
      line: rest.slice(0, nul).split('\n').length + 1,
      reason: 'a NUL byte in the frontmatter: the file is binary, not text, and Claude Code drops it',
      fix: 'save the file as UTF-8 text, or move it out of the agents folder if it is no agent file',
    }
  }
  if (close === -1) {
    return {
      line: 1,
      reason: 'the frontmatter opened on line 1 is never closed',
      fix: 'add a `---` line after the last frontmatter key',
    }
  }
  const yamlLines = rest.slice(0, close).split(/\r?\n/)
  const closeLine = yamlLines.length + 1 // 1-based file line holding the closing `---`
  const onItsOwnLine = yamlLines.at(-1) === '' && FENCE.test(rest.slice(close).split(/\r?\n/)[0]!)
  if (yamlLines.at(-1) === '') yamlLines.pop()
  const body = rest.slice(close).split(/\r?\n/).slice(1).join('\n')
  const keyLines: Record<string, number> = {}
  yamlLines.forEach((l, i) => {
    const key = /^([A-Za-z_][\w-]*):/.exec(l)?.[1]
    if (key !== undefined && keyLines[key] === undefined) keyLines[key] = i + 2
  })

  const cut = onItsOwnLine ? { closeLine } : { closeLine, cutAt: closeLine }
  const first = tryYaml(yamlLines.join('\n'))
  if (first.ok) return finish(first.value, body, false, keyLines, cut)
  const retried = tryYaml(quoteRiskyValues(yamlLines).join('\n'))
  if (retried.ok) return finish(retried.value, body, true, keyLines, cut)
  return {
    line: retried.line + 1, // +1: the frontmatter starts on the file's line 2
    reason: `the frontmatter is not YAML, even after quoting risky values: ${retried.message}`,
    fix: 'quote the value on that line with double quotes, or fix its indentation',
  }
}

/** Step 2's retry: wrap risky single-line top-level values in double quotes. */
export function quoteRiskyValues(yamlLines: readonly string[]): string[] {
  return yamlLines.map((line) => {
    const m = TOP_LEVEL_PAIR.exec(line)
    if (!m) return line
    const [, key, value] = m as unknown as [string, string, string]
    if (value.startsWith('"') || value.startsWith("'")) return line
    if (!NEEDS_QUOTES.test(value)) return line
    return `${key}: "${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  })
}

type YamlResult = { ok: true; value: unknown } | { ok: false; line: number; message: string }

function tryYaml(source: string): YamlResult {
  try {
    return { ok: true, value: parseYaml(source) }
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const line = e.linePos?.[0].line ?? 1
      return { ok: false, line, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') }
    }
    return { ok: false, line: 1, message: String(e) }
  }
}

function finish(value: unknown, body: string, quotingRetry: boolean, keyLines: Record<string, number>, cut: { closeLine: number; cutAt?: number }): Frontmatter | FrontmatterFailure {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { line: 2, reason: 'the frontmatter is not a list of `key: value` pairs', fix: 'write `name: …` and `description: …` lines between the `---` lines' }
  }
  const data = { ...(value as Record<string, unknown>) }
  // Step 4: descriptions written on one line carry literal "\n" for newlines.
  if (typeof data.description === 'string') data.description = data.description.replace(/\\n/g, '\n')
  return { data, body, quotingRetry, keyLines, ...cut }
}

export function isFailure(x: Frontmatter | FrontmatterFailure): x is FrontmatterFailure {
  return 'reason' in x
}
