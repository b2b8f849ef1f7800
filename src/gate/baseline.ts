import { z } from 'zod'
import { sha256, type Catalogue } from '../load/catalogue.js'
import { readJsonFile } from '../load/json-file.js'
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
      repeats: z.number().int().positive(),
      metrics: z.looseObject({ accuracy: z.number(), primaryAccuracy: z.number(), macroF1: z.number(), errored: z.number().int() }),
      cases: z.array(baselineCaseSchema),
    }),
  ),
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
    datasets: input.summaries.map((s) => ({
      path: s.dataset.path,
      fingerprint: s.dataset.fingerprint,
      repeats: s.repeats,
      metrics: { accuracy: s.metrics.accuracy, primaryAccuracy: s.metrics.primaryAccuracy, macroF1: s.metrics.macroF1, microF1: s.metrics.microF1, errored: s.metrics.errored },
      cases: s.cases.map((c) => ({ id: c.id, expected: c.expected, decision: c.decision, correct: c.correct, votes: c.votes, split: c.split, flipped: c.flipped, ...(c.prompt !== undefined ? { promptHash: promptHash(c.prompt) } : {}) })),
    })),
  }
}

export function readBaseline(file: string): Promise<Baseline> {
  return readJsonFile(file, baselineSchema, {
    unreadable: 'the baseline file does not exist or cannot be read',
    unreadableFix: 'make one with `routecheck baseline` and commit it, or pass --baseline FILE',
    notJson: 'the baseline is not JSON: {error}',
    wrongShape: 'not a routecheck baseline',
    fix: 'regenerate it with `routecheck baseline`',
  })
}
