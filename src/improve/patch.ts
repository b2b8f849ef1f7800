import { formatPatch, structuredPatch } from 'diff'
import { parseAgentFile } from '../load/catalogue.js'
import { isFailure, readFrontmatter } from '../load/frontmatter.js'

/**
 * Agent files with a new description, and the unified diff that makes them:
 * `improve` never edits an agent file, it writes a patch a reviewer applies
 * with `git apply` or `patch -p1`.
 */

/** Lines of context around each change, as `diff -u` and git print. */
const CONTEXT = 3

/**
 * The agent file's text with its `description` replaced, everything else
 * byte for byte (other keys, the body, the line endings). The new value is
 * one double-quoted YAML line, which strict YAML reads as it is; the result
 * is read back as Claude Code would read it, and refused unless it gives the
 * new description and the same name.
 */
export function withDescription(file: string, text: string, description: string): { text: string } | { error: string } {
  if (description.includes('---')) return { error: 'the description holds "---", where Claude Code would end the frontmatter' }
  const fm = readFrontmatter(text)
  if (isFailure(fm)) return { error: `${file}:${fm.line}: ${fm.reason}` }
  const at = fm.keyLines.description
  if (at === undefined) return { error: `${file}: no description line to replace` }
  const eol = /\r\n/.test(text) ? '\r\n' : '\n'
  const lines = text.split(/\r?\n/)
  // The value runs on over indented lines (a block scalar, a folded quote) and blank lines between them.
  let last = at - 1
  for (let k = at; k < fm.closeLine - 1; k++) {
    const line = lines[k]!
    if (/^[ \t]/.test(line) && line.trim() !== '') last = k
    else if (line.trim() !== '') break
  }
  const replaced = [...lines.slice(0, at - 1), `description: ${JSON.stringify(description)}`, ...lines.slice(last + 1)].join(eol)
  const back = parseAgentFile(file, replaced)
  const before = parseAgentFile(file, text)
  if ('reason' in back) return { error: `${file}: the rewritten file does not load: ${back.reason}` }
  if (back.description !== description.trim() || ('name' in before && back.name !== before.name)) {
    return { error: `${file}: the rewritten file does not read back as the new description (a literal "\\n" in it, which Claude Code turns into a newline?)` }
  }
  return { text: replaced }
}

/**
 * One file's unified diff (`diff --git a/PATH b/PATH`), as git prints it:
 * jsdiff's hunks with 3 lines of context, line endings kept as they are, a
 * last line without a newline marked as diff does.
 */
export function unifiedDiff(path: string, before: string, after: string): string {
  if (before === after) return ''
  return formatPatch({ ...structuredPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, { context: CONTEXT }), isGit: true })
}
