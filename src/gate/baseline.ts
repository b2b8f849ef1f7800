import { z } from 'zod'
import { sha256, type Catalogue } from '../load/catalogue.js'
import { isBuiltinAgent } from '../load/builtin-agents.js'
import { MAX_REPEATS } from '../load/config.js'
import { NONE } from '../load/dataset.js'
import { parseJsonText, readJsonFile, refuseTooLarge, type JsonProblem } from '../load/json-file.js'
import type { Summary } from '../run/record.js'

export const DEFAULT_BASELINE = 'reports/baseline.json'

/**
 * reports/baseline.json: what the gate compares a pull request with. Meant to
 * be committed, so it keeps only what the comparison and the report need:
 * per dataset the per-case decisions and votes and the metrics; the router;
 * every agent's fingerprint and routing text (for the description diff); and
 * the near-duplicate pairs the catalogue already had.
 */
const baselineCaseSchema = z.object({
  id: z.string(),
  expected: z.array(z.string()).min(1),
  decision: z.string().nullable(),
  correct: z.boolean().nullable(),
  votes: z.record(z.string(), z.number()),
  split: z.boolean(),
  flipped: z.boolean(),
  /** the prompt's hash, so the gate compares a case only while its prompt is the same (absent in baselines before 0.2) */
  promptHash: z.string().optional(),
  /** the router named an agent that does not exist: the decision is that unknown name, scored wrong */
  invalid: z.literal(true).optional(),
})

export const baselineSchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('routecheck-baseline'),
  tool: z.object({ name: z.literal('routecheck'), version: z.string() }),
  createdAt: z.string(),
  router: z.object({ id: z.string() }),
  catalogueFingerprint: z.string(),
  agents: z.array(
    z.object({
      name: z.string(),
      file: z.string(),
      fingerprint: z.string(),
      description: z.string(),
      tools: z.array(z.string()).optional(),
      disallowedTools: z.array(z.string()).optional(),
    }),
  ),
  nearDuplicatePairs: z.array(z.tuple([z.string(), z.string()])),
  datasets: z.array(
    z.object({
      path: z.string(),
      fingerprint: z.string(),
      repeats: z.number().int().min(1).max(MAX_REPEATS),
      /** the hash of its cases as recorded: a baseline whose cases were cut or edited no longer matches it (absent before 0.2) */
      casesFingerprint: z.string().optional(),
      metrics: z.looseObject({ accuracy: z.number(), primaryAccuracy: z.number(), macroF1: z.number(), errored: z.number().int() }),
      cases: z.array(baselineCaseSchema),
    }),
  ).min(1, 'a baseline needs at least one dataset'),
})
export type Baseline = z.infer<typeof baselineSchema>
export type BaselineDataset = Baseline['datasets'][number]
export type BaselineCase = z.infer<typeof baselineCaseSchema>

/** 64 bits of the prompt's sha256: enough to notice a reworded prompt, short enough to keep a committed baseline small. */
export const promptHash = (prompt: string): string => sha256(prompt).slice(0, 16)

export function buildBaseline(input: { summaries: readonly Summary[]; catalogue: Catalogue; nearDuplicatePairs: Array<[string, string]>; toolVersion: string; createdAt: Date }): Baseline {
  const [first] = input.summaries
  if (!first) throw new Error('a baseline needs at least one run')
  return {
    schemaVersion: 1,
    kind: 'routecheck-baseline',
    tool: { name: 'routecheck', version: input.toolVersion },
    createdAt: input.createdAt.toISOString(),
    router: { id: first.router.id },
    catalogueFingerprint: input.catalogue.fingerprint,
    agents: input.catalogue.agents.map((a) => ({
      name: a.name,
      file: a.file,
      fingerprint: a.fingerprint,
      description: a.description,
      ...(a.tools ? { tools: a.tools } : {}),
      ...(a.disallowedTools ? { disallowedTools: a.disallowedTools } : {}),
    })),
    nearDuplicatePairs: input.nearDuplicatePairs,
    datasets: input.summaries.map((s) => {
      const cases = s.cases.map((c) => ({ id: c.id, expected: c.expected, decision: c.decision, correct: c.correct, votes: c.votes, split: c.split, flipped: c.flipped, ...(c.prompt !== undefined ? { promptHash: promptHash(c.prompt) } : {}), ...(c.invalid ? { invalid: true as const } : {}) }))
      return {
        path: s.dataset.path,
        fingerprint: s.dataset.fingerprint,
        repeats: s.repeats,
        casesFingerprint: casesFingerprint(cases),
        metrics: { accuracy: s.metrics.accuracy, primaryAccuracy: s.metrics.primaryAccuracy, macroF1: s.metrics.macroF1, microF1: s.metrics.microF1, errored: s.metrics.errored },
        cases,
      }
    }),
  }
}

/** The hash of a dataset's cases as the baseline records them (ids, labels, prompts, decisions, votes): cutting or editing a case shows. */
export function casesFingerprint(cases: ReadonlyArray<Pick<BaselineCase, 'id' | 'expected' | 'promptHash' | 'decision' | 'votes' | 'invalid'>>): string {
  return sha256(JSON.stringify(cases.map((c) => [c.id, c.expected, c.promptHash ?? null, c.decision, c.votes, c.invalid ?? false])))
}

/** A baseline of a 100,000-case dataset is about 20 MB; anything past this is not one. */
export const MAX_BASELINE_BYTES = 100 * 1048576

/** What a bad baseline file is told, whether read from a file or from a git commit. */
const BASELINE_MESSAGES = {
  unreadable: 'the baseline file does not exist or cannot be read',
  unreadableFix: 'make one with `routecheck baseline` and commit it, or pass --baseline FILE',
  notJson: 'the baseline is not JSON: {error}',
  wrongShape: 'not a routecheck baseline',
  fix: 'regenerate it with `routecheck baseline`',
}

const REGENERATE = 'make a new baseline with `routecheck baseline` and commit it'

/**
 * Reads a baseline and checks it like any other input. Anything that would
 * make it claim less than it checked is exit 2 with the place: cases cut
 * (the cases no longer match their fingerprint or add up to the recorded
 * accuracy), undecided cases (unless `allowIncomplete`), names its own agent
 * list never had, duplicate ids.
 */
export function readBaseline(file: string, opts: { allowIncomplete?: boolean } = {}): Promise<Baseline> {
  return readJsonFile(file, baselineSchema, BASELINE_MESSAGES, { maxBytes: MAX_BASELINE_BYTES, check: (b) => baselineProblems(b, opts.allowIncomplete ?? false) })
}

/** A baseline read from elsewhere than a file (a git commit's blob, `name` saying which), checked exactly as readBaseline checks a file. */
export function baselineFromText(name: string, blob: { text: string | undefined; bytes: number }, opts: { allowIncomplete?: boolean } = {}): Baseline {
  refuseTooLarge(name, blob.bytes, MAX_BASELINE_BYTES, BASELINE_MESSAGES)
  return parseJsonText(name, blob.text ?? '', baselineSchema, BASELINE_MESSAGES, (b) => baselineProblems(b, opts.allowIncomplete ?? false))
}

export function baselineProblems(b: Baseline, allowIncomplete: boolean): JsonProblem[] {
  const problems: JsonProblem[] = []
  const known = new Set(b.agents.map((a) => a.name))
  const real = (name: string) => name === NONE || known.has(name) || isBuiltinAgent(name)
  for (const [d, ds] of b.datasets.entries()) {
    const at = (...rest: PropertyKey[]) => ['datasets', d, ...rest]
    if (ds.casesFingerprint !== undefined && ds.casesFingerprint !== casesFingerprint(ds.cases)) {
      problems.push({ path: at('cases'), message: `the cases of ${ds.path} are not the ones this baseline recorded (their fingerprint differs): cases were removed or edited`, fix: REGENERATE })
    }
    const decided = ds.cases.filter((c) => c.decision !== null)
    const accuracy = decided.length === 0 ? 0 : decided.filter((c) => c.expected.includes(c.decision!)).length / decided.length
    if (Math.abs(accuracy - ds.metrics.accuracy) > 1e-9) {
      problems.push({ path: at('metrics', 'accuracy'), message: `the cases of ${ds.path} give accuracy ${accuracy.toFixed(4)}, not the recorded ${ds.metrics.accuracy.toFixed(4)}: cases were removed or edited`, fix: REGENERATE })
    }
    const undecided = ds.cases.length - decided.length
    if (!allowIncomplete && (undecided > 0 || ds.metrics.errored > 0)) {
      const first = ds.cases.findIndex((c) => c.decision === null)
      problems.push({
        path: first >= 0 ? at('cases', first, 'decision') : at('metrics', 'errored'),
        message: `${Math.max(undecided, ds.metrics.errored)} of ${ds.cases.length} cases of ${ds.path} have no decision: a baseline from an incomplete run compares nothing for them`,
        fix: `${REGENERATE} from a complete run, or pass --allow-incomplete to compare the decided cases only`,
      })
    }
    const ids = new Set<string>()
    for (const [i, c] of ds.cases.entries()) {
      if (ids.has(c.id)) problems.push({ path: at('cases', i, 'id'), message: `duplicate case id "${c.id}"`, fix: REGENERATE })
      ids.add(c.id)
      // A label must be an agent; a decision may name a missing one only where the run marked it invalid (scored wrong).
      const named = c.invalid ? c.expected : [...c.expected, ...(c.decision !== null ? [c.decision] : []), ...Object.keys(c.votes)]
      const ghost = named.find((n) => !real(n))
      if (ghost !== undefined) problems.push({ path: at('cases', i), message: `case "${c.id}" names "${ghost}", an agent this baseline's agent list never had`, fix: REGENERATE })
    }
  }
  return problems
}
