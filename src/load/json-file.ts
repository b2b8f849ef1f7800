import { readFile } from 'node:fs/promises'
import type { z } from 'zod'
import { InputError } from './input-error.js'

/** What to say when a JSON file cannot be read, is not JSON, or has the wrong shape. */
export type JsonFileMessages = { unreadable: string; notJson: string; wrongShape: string; fix: string; unreadableFix?: string }

/**
 * Reads a JSON file that routecheck wrote (a run's summary, a baseline) and
 * checks it against its schema; every failure is bad input naming the file.
 */
export async function readJsonFile<S extends z.ZodType>(file: string, schema: S, say: JsonFileMessages): Promise<z.infer<S>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new InputError([{ file, message: say.unreadable.replace('{error}', (e as Error).message), fix: say.unreadableFix ?? say.fix }])
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new InputError([{ file, message: say.notJson.replace('{error}', (e as Error).message), fix: say.fix }])
  }
  const parsed = schema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new InputError([{ file, message: `${say.wrongShape}: "${issue.path.join('.')}": ${issue.message}`, fix: say.fix }])
  }
  return parsed.data
}
