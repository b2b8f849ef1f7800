/** One thing wrong with the user's input, with where it is and how to fix it. */
export type Problem = {
  file: string
  line?: number
  /** for CSV: the 1-based field number; for YAML/JSON: the character column */
  column?: number
  /** the CSV column's header name, when there is one */
  field?: string
  message: string
  fix?: string
}

/**
 * Bad input: the CLI prints every problem and exits 2. Loaders collect all the
 * problems of a file before throwing, so a user fixes them in one pass.
 */
export class InputError extends Error {
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'InputError'
    this.problems = problems
  }
}

/** Bad flags or config values that are not tied to a line of a file. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export function formatPlace(p: Pick<Problem, 'file' | 'line' | 'column' | 'field'>): string {
  let place = p.file
  if (p.line !== undefined) place += `:${p.line}`
  if (p.column !== undefined && p.field === undefined) place += `:${p.column}`
  if (p.field !== undefined) place += ` (column ${p.column ?? '?'}, "${p.field}")`
  return place
}

export function formatProblem(p: Problem): string {
  const fix = p.fix ? `\n  fix: ${p.fix}` : ''
  return `${formatPlace(p)}: ${p.message}${fix}`
}

/** Throws one InputError for all the problems, listing at most `limit` of them. */
export function throwIfProblems(problems: Problem[], limit = 25): void {
  if (problems.length === 0) return
  if (problems.length <= limit) throw new InputError(problems)
  const shown = problems.slice(0, limit)
  const first = problems[0]!
  shown.push({ file: first.file, message: `…and ${problems.length - limit} more problems like these` })
  throw new InputError(shown)
}

/** The code of a file-system error (ENOENT, EACCES, …), if it is one. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return e instanceof Error && typeof code === 'string' ? code : undefined
}

/** A file-system error in a few words, for a message. */
export function fsFailure(e: unknown): string {
  switch (errnoCode(e)) {
    case 'ENOENT':
      return 'it does not exist'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EISDIR':
      return 'it is a folder, not a file'
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder'
    case 'ELOOP':
      return 'a symlink loop'
    case 'ENAMETOOLONG':
      return 'the path is too long'
    case 'ENOSPC':
      return 'no space left on the device (ENOSPC)'
    case 'EROFS':
      return 'the file system is read-only (EROFS)'
    case 'EDQUOT':
      return 'the disk quota is used up (EDQUOT)'
    case 'EFBIG':
      return 'the file would pass the file-size limit (EFBIG)'
    case 'EIO':
      return 'an input/output error of the device (EIO)'
    default: {
      const code = errnoCode(e)
      return code ? `${code}: ${(e as Error).message}` : String(e)
    }
  }
}
