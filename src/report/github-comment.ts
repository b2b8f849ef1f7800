import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { UsageError } from '../load/input-error.js'
import { markdownText, redact } from '../text/safe.js'

/**
 * The pull-request comment: one per pull request, found again by a hidden
 * marker at the start of its body and updated in place on every run (a
 * "sticky" comment), holding the run folders' report.md. Three REST calls on
 * Node's own fetch: list the issue comments (paginated), then PATCH the one
 * routecheck wrote or POST a new one.
 */

/** Starts every comment routecheck posts; the comment to update is a bot's comment starting with it. */
export const COMMENT_MARKER = '<!-- routecheck-gate -->'
/** GitHub refuses a comment body longer than this many characters. */
export const COMMENT_LIMIT = 65_536

export type ReportPart = { source: string; text: string }

/**
 * The comment's body: the marker, each report.md (joined by rules), a footer.
 * When they do not fit under the limit, each report gets a fair share
 * (the short ones whole, the long ones cut at a line), and each cut says what
 * it dropped; `cut` lists the same for the log.
 */
export function commentBody(parts: readonly ReportPart[], opts: { footer?: string; limit?: number } = {}): { body: string; cut: string[] } {
  const limit = opts.limit ?? COMMENT_LIMIT
  const head = `${COMMENT_MARKER}\n`
  const footer = opts.footer ? `\n\n${opts.footer}\n` : '\n'
  const separator = '\n\n---\n\n'
  if (parts.length === 0) return { body: `${head}${NO_REPORT}${footer}`, cut: [] }
  const texts = parts.map((p) => p.text.trimEnd())
  const fixed = head.length + footer.length + separator.length * (parts.length - 1)
  const room = Math.max(0, limit - fixed)
  const share = fairShares(
    texts.map((t) => t.length),
    room,
  )
  const cut: string[] = []
  const shown = texts.map((text, i) => {
    if (text.length <= share[i]!) return text
    const source = parts[i]!.source
    const kept = cutAtLine(text, Math.max(0, share[i]! - CUT_NOTE_ROOM))
    const dropped = text.length - kept.length
    cut.push(`${source}: ${dropped.toLocaleString('en-US')} of ${text.length.toLocaleString('en-US')} characters cut`)
    return `${kept}\n\n_…${dropped.toLocaleString('en-US')} of ${text.length.toLocaleString('en-US')} characters of ${markdownText(source)} cut to stay under GitHub's ${limit.toLocaleString('en-US')}-character comment limit; the run folder has all of it._`
  })
  const body = `${head}${shown.join(separator)}${footer}`
  // The shares leave room for the notes; this only guards that arithmetic.
  return { body: body.length <= limit ? body : body.slice(0, limit), cut }
}

const NO_REPORT = '_The routing gate wrote no report.md in its last run: with `--only-if-changed`, nothing routing reads has changed; otherwise the job log says why._'
/** Room kept in a cut report's share for its note and a closing </details>. */
const CUT_NOTE_ROOM = 400

/** Splits `room` among items: each at most its size, the rest shared evenly among the bigger ones. */
function fairShares(sizes: readonly number[], room: number): number[] {
  const shares = new Array<number>(sizes.length).fill(0)
  const order = sizes.map((size, i) => ({ size, i })).sort((a, b) => a.size - b.size)
  let left = room
  order.forEach(({ size, i }, k) => {
    const even = Math.floor(left / (order.length - k))
    shares[i] = Math.min(size, even)
    left -= shares[i]!
  })
  return shares
}

/** The longest run of whole lines that fits in `max` characters, with a <details> block the cut left open closed. */
function cutAtLine(text: string, max: number): string {
  const kept: string[] = []
  let size = '\n\n</details>'.length
  for (const line of text.split('\n')) {
    size += line.length + 1
    if (size > max) break
    kept.push(line)
  }
  const open = kept.filter((l) => l.startsWith('<details>')).length - kept.filter((l) => l === '</details>').length
  return `${kept.join('\n')}${open > 0 ? '\n\n</details>' : ''}`
}

const eventSchema = z.looseObject({
  pull_request: z.looseObject({ number: z.number().int().positive(), head: z.looseObject({ sha: z.string() }).optional() }).optional(),
  issue: z.looseObject({ number: z.number().int().positive(), pull_request: z.unknown().optional() }).optional(),
})

/** What the workflow's event says about the pull request: its number and head commit, when the event is about one. */
export async function pullRequestOfEvent(eventPath: string | undefined): Promise<{ number?: number; headSha?: string }> {
  if (!eventPath) return {}
  let json: unknown
  try {
    json = JSON.parse(await readFile(eventPath, 'utf8'))
  } catch {
    throw new UsageError(`cannot read the event file $GITHUB_EVENT_PATH (${eventPath}) as JSON; pass --pr N`)
  }
  const event = eventSchema.safeParse(json)
  if (!event.success) return {}
  const { pull_request: pr, issue } = event.data
  if (pr) return { number: pr.number, ...(pr.head ? { headSha: pr.head.sha } : {}) }
  if (issue?.pull_request !== undefined) return { number: issue.number }
  return {}
}

/** Where to post, and with what. */
export type GitHubTarget = {
  /** the REST API's base: https://api.github.com, or a GitHub Enterprise Server's …/api/v3 */
  api: string
  /** owner/name */
  repo: string
  pr: number
  token: string
  userAgent: string
  /** per request; default 30 s */
  timeoutMs?: number
}

export type Exchange = { method: string; path: string; status: number }

export type CommentResult =
  | { kind: 'created' | 'updated'; id: number; url: string; exchanges: Exchange[] }
  /** no comment of ours and nothing worth creating one for */
  | { kind: 'skipped'; exchanges: Exchange[] }
  /** 403 or 404: the token may not comment here (a fork's pull request gets a read-only token) */
  | { kind: 'refused'; status: number; statusText: string; method: string; path: string; message: string; exchanges: Exchange[] }

/** Anything else that went wrong talking to GitHub; the message is one sentence with the token already taken out. */
export class GitHubApiError extends Error {
  override name = 'GitHubApiError'
}

/** Checks the target's parts before any request, so a bad value is a usage error and the token never leaves over plain http. */
export function checkTarget(api: string, repo: string): URL {
  let url: URL
  try {
    url = new URL(api)
  } catch {
    throw new UsageError(`$GITHUB_API_URL is not a URL: "${api}"`)
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new UsageError(`$GITHUB_API_URL must be https (plain http only to localhost), so the token is never sent in the clear; got ${url.origin}`)
  }
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) throw new UsageError(`$GITHUB_REPOSITORY must be owner/name; got "${repo}"`)
  return url
}

const commentSchema = z.looseObject({
  id: z.number(),
  body: z.string().nullish(),
  html_url: z.string().optional(),
  user: z.looseObject({ login: z.string().optional(), type: z.string().optional() }).nullish(),
})
type IssueComment = z.infer<typeof commentSchema>

/**
 * Routecheck's comment: a bot's (the workflow token posts as
 * github-actions[bot]) whose body starts with the marker. Anyone can write
 * the marker; only a bot's comment is updated, so the report never lands in
 * a comment a person can edit.
 */
export const isRoutecheckComment = (c: IssueComment): boolean => c.user?.type === 'Bot' && (c.body ?? '').startsWith(COMMENT_MARKER)

/**
 * Updates routecheck's comment on the pull request, or creates it
 * (`create: false`: only updates). A 403 or 404 is a `refused` result, not
 * an error; every other failure throws a GitHubApiError whose message has the
 * token redacted, whatever the server echoed.
 */
export async function upsertComment(target: GitHubTarget, body: string, opts: { create?: boolean } = {}): Promise<CommentResult> {
  const base = checkTarget(target.api, target.repo)
  const root = target.api.replace(/\/+$/, '')
  const [owner, name] = target.repo.split('/').map(encodeURIComponent) as [string, string]
  const exchanges: Exchange[] = []
  const call = async (method: string, url: string, payload?: unknown): Promise<{ status: number; statusText: string; json: unknown; link: string | null; path: string }> => {
    const at = new URL(url)
    const path = `${at.pathname}${at.search}`
    let response: Response
    try {
      response = await fetch(at, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${target.token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': target.userAgent,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(target.timeoutMs ?? 30_000),
      })
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e)
      throw new GitHubApiError(redact(`could not reach GitHub at ${base.origin} for ${method} ${path}: ${cause}`, [target.token]))
    }
    const text = await response.text().catch(() => '')
    exchanges.push({ method, path, status: response.status })
    let json: unknown
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    return { status: response.status, statusText: response.statusText, json, link: response.headers.get('link'), path }
  }
  type Reply = Awaited<ReturnType<typeof call>>
  const refused = (method: string, r: Reply): CommentResult => ({ kind: 'refused', status: r.status, statusText: r.statusText, method, path: r.path, message: redact(gitHubMessage(r.json), [target.token]), exchanges })
  const fail = (method: string, r: Reply): never => {
    const said = gitHubMessage(r.json)
    throw new GitHubApiError(redact(`GitHub answered ${r.status}${r.statusText ? ` ${r.statusText}` : ''} to ${method} ${r.path}${said ? `: ${said}` : ''}`, [target.token]))
  }
  const ok = (r: Reply) => r.status >= 200 && r.status < 300
  const forbidden = (r: Reply) => r.status === 403 || r.status === 404

  // Every page of the pull request's comments, following the Link header.
  let found: IssueComment | undefined
  let next: string | undefined = `${root}/repos/${owner}/${name}/issues/${target.pr}/comments?per_page=100`
  const seen = new Set<string>()
  while (next && !found) {
    seen.add(next)
    const r = await call('GET', next)
    if (forbidden(r)) return refused('GET', r)
    if (!ok(r)) fail('GET', r)
    const page = z.array(commentSchema).safeParse(r.json)
    if (!page.success) throw new GitHubApiError(`GitHub's list of comments (GET ${r.path}) is not a list of comments`)
    found = page.data.find(isRoutecheckComment)
    next = nextLink(r.link)
    if (next !== undefined) {
      if (new URL(next).origin !== base.origin) throw new GitHubApiError(`GitHub's Link header points to another host (${new URL(next).origin}); the token goes only to ${base.origin}`)
      if (seen.has(next)) next = undefined
    }
  }

  const posted = (kind: 'created' | 'updated', r: Reply): CommentResult => {
    const c = commentSchema.safeParse(r.json)
    return { kind, id: c.success ? c.data.id : (found?.id ?? 0), url: c.success ? (c.data.html_url ?? '') : '', exchanges }
  }
  if (found) {
    const r = await call('PATCH', `${root}/repos/${owner}/${name}/issues/comments/${found.id}`, { body })
    if (forbidden(r)) return refused('PATCH', r)
    if (!ok(r)) fail('PATCH', r)
    return posted('updated', r)
  }
  if (opts.create === false) return { kind: 'skipped', exchanges }
  const r = await call('POST', `${root}/repos/${owner}/${name}/issues/${target.pr}/comments`, { body })
  if (forbidden(r)) return refused('POST', r)
  if (!ok(r)) fail('POST', r)
  return posted('created', r)
}

/** The URL of rel="next" in a Link header. */
export function nextLink(link: string | null): string | undefined {
  for (const part of (link ?? '').split(',')) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim())
    if (m && /\brel="?[^"]*\bnext\b/.test(m[2]!)) return m[1]
  }
  return undefined
}

/** GitHub's error message from a reply's JSON, short and on one line. */
function gitHubMessage(json: unknown): string {
  const message = (json as { message?: unknown } | undefined)?.message
  if (typeof message !== 'string') return ''
  const line = message.replace(/\s+/g, ' ').trim()
  return line.length > 300 ? `${line.slice(0, 299)}…` : line
}

