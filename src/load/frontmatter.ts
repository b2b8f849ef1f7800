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
}

export type FrontmatterFailure = { line: number; reason: string; fix: string }

const FENCE = /^---\s*$/
const TOP_LEVEL_PAIR = /^([A-Za-z_][\w-]*):[ \t]+(.+?)\s*$/
// Characters that make a plain YAML scalar mean something else (DESIGN, step 2).
const NEEDS_QUOTES = /[{}[\]*&#!|>%@`]|: /

export function readFrontmatter(text: string): Frontmatter | FrontmatterFailure {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  if (!FENCE.test(lines[0] ?? '')) {
    return {
      line: 1,
      reason: 'the file does not start with a `---` frontmatter line',
      fix: 'begin the file with `---`, then `name:` and `description:` lines, then `---`',
    }
  }
  const close = lines.findIndex((l, i) => i > 0 && FENCE.test(l))
  if (close === -1) {
    return {
      line: 1,
      reason: 'the frontmatter opened on line 1 is never closed',
      fix: 'add a `---` line after the last frontmatter key',
    }
  }
  const yamlLines = lines.slice(1, close)
  const body = lines.slice(close + 1).join('\n')
  const keyLines: Record<string, number> = {}
  yamlLines.forEach((l, i) => {
    const key = /^([A-Za-z_][\w-]*):/.exec(l)?.[1]
    if (key !== undefined && keyLines[key] === undefined) keyLines[key] = i + 2
  })

  const first = tryYaml(yamlLines.join('\n'))
  if (first.ok) return finish(first.value, body, false, keyLines)
  const retried = tryYaml(quoteRiskyValues(yamlLines).join('\n'))
  if (retried.ok) return finish(retried.value, body, true, keyLines)
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

function finish(value: unknown, body: string, quotingRetry: boolean, keyLines: Record<string, number>): Frontmatter | FrontmatterFailure {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { line: 2, reason: 'the frontmatter is not a list of `key: value` pairs', fix: 'write `name: …` and `description: …` lines between the `---` lines' }
  }
  const data = { ...(value as Record<string, unknown>) }
  // Step 4: descriptions written on one line carry literal "\n" for newlines.
  if (typeof data.description === 'string') data.description = data.description.replace(/\\n/g, '\n')
  return { data, body, quotingRetry, keyLines }
}

export function isFailure(x: Frontmatter | FrontmatterFailure): x is FrontmatterFailure {
  return 'reason' in x
}
