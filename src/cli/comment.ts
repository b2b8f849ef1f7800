import { existsSync, statSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { loadConfig } from '../load/config.js'
import { UsageError } from '../load/input-error.js'
import { commentBody, GitHubApiError, pullRequestOfEvent, upsertComment, type CommentResult, type ReportPart } from '../report/github-comment.js'
import { planEval } from '../run/evaluate.js'
import { redact, workflowData } from '../text/safe.js'
import { defineCommand } from './command.js'
import { EXIT, type CommandIO } from './io.js'
import { pick } from './options.js'

/**
 * `routecheck comment [RUN_DIR...]`: posts the run folders' report.md on the
 * pull request as one comment, updated in place on every later run.
 */
export const commentCommand = defineCommand({
  name: 'comment',
  summary: "post the run folders' report.md as one pull-request comment, updated in place on later runs",
  args: { usage: '[RUN_DIR...]', what: 'run folders', min: 0, max: Infinity },
  description: `Joins the report.md of the given run folders (or of every run folder under the
config's out folder, or of --dataset's run folders) and posts it on the pull
request as one comment, marked with a hidden <!-- routecheck-gate --> line. A
later run finds that comment (a bot's comment starting with the marker) and
updates it instead of adding another. Reports too long for one comment
(65,536 characters) are cut at a line, each cut saying what it dropped.
Reads $GITHUB_TOKEN, $GITHUB_REPOSITORY (owner/name), $GITHUB_API_URL (default
https://api.github.com) and the pull request from $GITHUB_EVENT_PATH, as a
GitHub Actions job has them. The token is never printed.`,
  options: pick(['config', 'dataset', 'out', 'pr', 'dry-run'], {
    dataset: "post the report of this dataset's run folder; repeat for several (default: every run folder under the out folder)",
    out: "where the gate wrote the run folders (default: the config's out, reports/latest/)",
    'dry-run': 'print the comment instead of posting it; needs no token',
  }),
  footer: `A 403 or 404 from GitHub (a pull request from a fork gets a read-only token) is
a warning, not a failure. With no report.md to post, an earlier comment is
updated to say so and none is created.
Exit codes: 0 posted, updated, or refused by GitHub (403, 404) · 2 bad input or usage · 3 any other GitHub or network error`,
  async run(flags, io, runDirs) {
    const { parts, missing } = await readReports(runDirs, flags)
    for (const dir of missing) io.warn(`warning: no report.md in ${dir}\n`)
    const event = await pullRequestOfEvent(io.env.GITHUB_EVENT_PATH || undefined)
    const { body, cut } = commentBody(parts, { footer: footer(io, event.headSha) })
    for (const c of cut) io.warn(`comment: cut to fit GitHub's comment limit: ${c}\n`)
    if (flags.dryRun) {
      io.out(body)
      return EXIT.ok
    }

    const token = io.env.GITHUB_TOKEN ?? ''
    if (token.trim() === '') throw new UsageError('comment needs a token in $GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }}, with permissions: pull-requests: write)')
    const repo = io.env.GITHUB_REPOSITORY ?? ''
    if (repo === '') throw new UsageError('comment needs the repository in $GITHUB_REPOSITORY (owner/name)')
    const pr = flags.pr ?? event.number
    if (pr === undefined) {
      throw new UsageError(`comment needs a pull request: ${io.env.GITHUB_EVENT_PATH ? `$GITHUB_EVENT_PATH (${io.env.GITHUB_EVENT_PATH}) holds no pull_request.number` : '$GITHUB_EVENT_PATH is not set'}; pass --pr N`)
    }
    const target = { api: io.env.GITHUB_API_URL || 'https://api.github.com', repo, pr, token, userAgent: `routecheck/${io.toolVersion}` }

    let result: CommentResult
    try {
      result = await upsertComment(target, body, { create: parts.length > 0 })
    } catch (e) {
      if (e instanceof UsageError) throw e
      // GitHubApiError messages come redacted; anything else is redacted here, in case it quotes a header.
      const why = e instanceof GitHubApiError ? e.message : redact(e instanceof Error ? e.message : String(e), [token])
      io.warn(`routecheck comment: could not post the comment on pull request #${pr} of ${repo}: ${why}\n`)
      return EXIT.incomplete
    }
    const what = parts.length === 0 ? 'a note that there is no report' : `${parts.map((p) => p.source).join(', ')} (${body.length.toLocaleString('en-US')} characters)`
    switch (result.kind) {
      case 'created':
        io.out(`comment: posted ${result.url || `comment ${result.id}`} on pull request #${pr}: ${what}\n`)
        break
      case 'updated':
        io.out(`comment: updated ${result.url || `comment ${result.id}`} on pull request #${pr}: ${what}\n`)
        break
      case 'skipped':
        io.out(`comment: no report.md to post and no earlier comment on pull request #${pr}; nothing posted\n`)
        break
      case 'refused': {
        const said = result.message ? ` (${result.message})` : ''
        warning(
          io,
          `GitHub answered ${result.status} ${result.statusText}${said} to ${result.method} ${result.path}: this token may not comment on pull request #${pr} of ${repo} (a pull request from a fork gets a read-only token), so no comment was posted; the report is in the job's step summary`,
        )
        break
      }
    }
    return EXIT.ok
  },
})

/** A warning: under GitHub Actions an annotation on the run, else a line on stderr. */
function warning(io: CommandIO, text: string): void {
  if (io.env.GITHUB_ACTIONS === 'true') io.annotate(`::warning title=routecheck comment::${workflowData(text)}\n`)
  else io.warn(`warning: ${text}\n`)
}

/** The report.md of each run folder asked for, and the folders that have none. */
async function readReports(runDirs: readonly string[], flags: { config: string | undefined; dataset: string[] | undefined; out: string | undefined }): Promise<{ parts: ReportPart[]; missing: string[] }> {
  let dirs: string[]
  const missing: string[] = []
  if (runDirs.length > 0) {
    for (const d of runDirs) if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`run folder ${d} does not exist`)
    dirs = []
    for (const d of runDirs) {
      const found = await runFoldersIn(d)
      if (found.length === 0) missing.push(d)
      dirs.push(...found)
    }
  } else {
    const { config } = await loadConfig(flags.config)
    if (flags.dataset) {
      const plan = planEval(config, { dataset: flags.dataset, out: flags.out })
      dirs = []
      for (const dataset of plan.datasets) {
        const dir = plan.outFor(dataset)
        if (existsSync(path.join(dir, 'report.md'))) dirs.push(dir)
        else missing.push(dir)
      }
    } else {
      dirs = await runFoldersIn(flags.out ?? config.out)
    }
  }
  const parts = await Promise.all(dirs.map(async (dir) => ({ source: path.join(dir, 'report.md'), text: await readFile(path.join(dir, 'report.md'), 'utf8') })))
  return { parts, missing }
}

/** The folder itself when it holds a report.md, else its subfolders that do, by name. */
async function runFoldersIn(dir: string): Promise<string[]> {
  if (existsSync(path.join(dir, 'report.md'))) return [dir]
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  return entries
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'report.md')))
    .map((e) => path.join(dir, e.name))
    .sort()
}

/** One small line under the reports: the version, the commit, the workflow run with the full reports. */
function footer(io: CommandIO, headSha: string | undefined): string {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: runId } = io.env
  const bits = [`routecheck ${io.toolVersion}`]
  if (headSha && /^[0-9a-f]{7,40}$/.test(headSha)) bits.push(`commit ${headSha.slice(0, 7)}`)
  if (server && /^https:\/\/[^\s()<>]+$/.test(server) && repo && /^[\w.-]+\/[\w.-]+$/.test(repo) && runId && /^\d+$/.test(runId)) {
    bits.push(`[workflow run](${server}/${repo}/actions/runs/${runId})`)
  }
  return `<sub>${bits.join(' · ')}</sub>`
}
