import { NONE } from '../src/load/dataset.js'
import { analyseOverlap } from '../src/overlap/index.js'
import { scoreCases } from '../src/score/metrics.js'
import { majorityVote } from '../src/score/votes.js'
import { seededRandom } from '../src/score/stats.js'
import { benchCatalogue } from './lexical.js'

/**
 * Scoring and overlap (with run signals) for a synthetic run of `cases`
 * cases × 3 repeats over a catalogue of `agents`: a router that is right 70%
 * of the time and otherwise confuses an agent with a neighbour.
 */
export async function benchPipeline(cases: number, agents: number): Promise<Record<string, number>> {
  const catalogue = await benchCatalogue(agents)
  const names = catalogue.agents.map((a) => a.name)
  const random = seededRandom(7)
  const pick = () => names[Math.floor(random() * names.length)]!
  const voted = Array.from({ length: cases }, (_, i) => {
    const gold = random() < 0.1 ? NONE : pick()
    const expected = gold !== NONE && random() < 0.3 ? [gold, pick()] : [gold]
    const attempts = [0, 1, 2].map((repeat) => {
      const agent = random() < 0.7 ? gold : random() < 0.5 ? NONE : names[(names.indexOf(gold) + 1) % names.length]!
      return { caseId: `c${i}`, repeat, tries: 1, decision: { agent, latencyMs: 1, runnerUp: pick(), scores: { [agent]: 5, [pick()]: 2 + random() * 3 } } }
    })
    return { id: `c${i}`, expected: [...new Set(expected)], vote: majorityVote(attempts) }
  })
  let started = performance.now()
  const scores = scoreCases(voted, names)
  const scoreMs = performance.now() - started
  started = performance.now()
  const overlap = analyseOverlap({ agents: catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })), cases: scores.cases })
  const overlapMs = performance.now() - started
  return { cases, agents, scoreMs: Math.round(scoreMs), overlapMs: Math.round(overlapMs), pairs: overlap.pairs.length, accuracy: Math.round(scores.metrics.accuracy * 1000) / 1000 }
}
