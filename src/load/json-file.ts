import { readFile, stat } from 'node:fs/promises'
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { InputError, type Problem } from './input-error.js'

/** What to say when a JSON file cannot be read, is not JSON, or has the wrong shape. */
export type JsonFileMessages = { unreadable: string; notJson: string; wrongShape: string; fix: string; unreadableFix?: string }

/** A problem a file's content has beyond its shape, at a JSON path. */
export type JsonProblem = { path: readonly PropertyKey[]; message: string; fix: string }

/**
 * Reads a JSON file that routecheck wrote (a run's summary, a baseline) and
 * checks it against its schema, then against `check` (what a schema cannot
 * say); every failure is bad input naming the file and the line.
 */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  say: JsonFileMessages,
  opts: { maxBytes?: number; check?: (data: z.infer<S>) => JsonProblem[] } = {},
): Promise<z.infer<S>> {
  let text: string
  try {
    refuseTooLarge(file, (await stat(file)).size, opts.maxBytes, say)
    text = await readFile(file, 'utf8')
  } catch (e) {
    if (e instanceof InputError) throw e
    throw new InputError([{ file, message: say.unreadable.replace('{error}', (e as Error).message), fix: say.unreadableFix ?? say.fix }])
  }
  return parseJsonText(file, text, schema, say, opts.check)
}

/** Bad input when a file of `bytes` is over `maxBytes`. */
export function refuseTooLarge(file: string, bytes: number, maxBytes: number | undefined, say: Pick<JsonFileMessages, 'wrongShape' | 'fix'>): void {
  if (maxBytes !== undefined && bytes > maxBytes) {
    throw new InputError([{ file, message: `${(bytes / 1048576).toFixed(0)} MB is too large (the limit is ${(maxBytes / 1048576).toFixed(0)} MB): ${say.wrongShape}`, fix: say.fix }])
  }
}

/**
 * JSON text read from elsewhere than a file (a blob of a git commit), checked as readJsonFile
 * checks a file; `file` names where it came from in every message.
 */
export function parseJsonText<S extends z.ZodType>(file: string, text: string, schema: S, say: JsonFileMessages, check?: (data: z.infer<S>) => JsonProblem[]): z.infer<S> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new InputError([{ file, message: say.notJson.replace('{error}', (e as Error).message), fix: say.fix }])
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new InputError([{ file, ...jsonLocator(text)(issue.path), message: `${say.wrongShape}: "${issue.path.join('.')}": ${issue.message}`, fix: say.fix }])
  }
  const problems = check?.(parsed.data) ?? []
  if (problems.length > 0) {
    const locate = jsonLocator(text)
    throw new InputError(problems.slice(0, 20).map((p): Problem => ({ file, ...locate(p.path), message: `"${p.path.join('.')}": ${p.message}`, fix: p.fix })))
  }
  return parsed.data
}

/** Line and column of a JSON path in the file's text (YAML reads JSON and keeps positions). */
export function jsonLocator(text: string): (path: readonly PropertyKey[]) => { line?: number; column?: number } {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter })
  return (path) => {
    const node = doc.getIn(path as PropertyKey[], true) as { range?: [number, number, number] } | undefined
    const start = node?.range?.[0]
    if (start === undefined) return {}
    const { line, col } = lineCounter.linePos(start)
    return { line, column: col }
  }
}
