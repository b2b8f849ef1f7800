import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { journalPath, openJournal } from '../src/route/journal.js'
import { loadPrices, priceFor, usageCost } from '../src/route/cost.js'
import { DEFAULT_RETRY, retryDelayMs } from '../src/route/run.js'
import { InputError } from '../src/load/input-error.js'
import { tempDir } from './support/cli.js'

const decision = (agent: string) => ({ agent, latencyMs: 12, usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 100, cacheWriteTokens: 0 } })

describe('the run journal', () => {
  it('keeps finished requests across opens, keyed by prompt and repeat', async () => {
    const dir = await tempDir()
    const j = openJournal(dir, 'router-a', 'cat-1')
    j.append('fix my css', 0, decision('frontend-developer'))
    j.append('fix my css', 1, decision('code-reviewer'))
    j.close()
    const again = openJournal(dir, 'router-a', 'cat-1')
    expect(again.loaded).toBe(2)
    expect(again.get('fix my css', 1)?.agent).toBe('code-reviewer')
    expect(again.get('fix my css', 2)).toBeUndefined()
    expect(again.get('fix my CSS', 0)).toBeUndefined()
    again.close()
    // Another router or catalogue never sees these answers.
    const other = openJournal(dir, 'router-a', 'cat-2')
    expect(other.loaded).toBe(0)
    other.close()
    const text = await readFile(journalPath(dir, 'router-a', 'cat-1'), 'utf8')
    expect(text).not.toMatch(/api[-_]?key/i)
  })

  it('repairs a last line cut off mid-write and appends cleanly after it', async () => {
    const dir = await tempDir()
    const j = openJournal(dir, 'r', 'c')
    j.append('p1', 0, decision('golang-pro'))
    j.close()
    const file = journalPath(dir, 'r', 'c')
    await appendFile(file, '{"key":"abc:0","decision":{"agent":"gol')
    const repaired = openJournal(dir, 'r', 'c')
    expect(repaired.repairedTail).toBe(true)
    expect(repaired.loaded).toBe(1)
    repaired.append('p2', 0, decision('none'))
    repaired.close()
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
  })

  it('read-only opening writes nothing', async () => {
    const dir = await tempDir()
    const j = openJournal(`${dir}/cache`, 'r', 'c', { readOnly: true })
    expect(j.loaded).toBe(0)
    await expect(readFile(journalPath(`${dir}/cache`, 'r', 'c'))).rejects.toThrow()
  })

  it('a journal with a foreign first line is bad input naming the file and the way out', async () => {
    const dir = await tempDir()
    await writeFile(journalPath(dir, 'r', 'c'), 'garbage\n')
    const err = (() => {
      try {
        openJournal(dir, 'r', 'c')
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(InputError)
    expect((err as InputError).message).toMatch(/delete the file .*or run with --no-cache/)
  })
})

describe('retry delays', () => {
  it('grows exponentially with jitter, is capped, and honours retry-after', () => {
    const lo = () => 0
    const hi = () => 1
    expect(retryDelayMs(1, undefined, DEFAULT_RETRY, lo)).toBe(250)
    expect(retryDelayMs(1, undefined, DEFAULT_RETRY, hi)).toBe(500)
    expect(retryDelayMs(3, undefined, DEFAULT_RETRY, hi)).toBe(2000)
    expect(retryDelayMs(20, undefined, DEFAULT_RETRY, hi)).toBe(DEFAULT_RETRY.maxDelayMs)
    expect(retryDelayMs(1, 3000, DEFAULT_RETRY, hi)).toBe(3000)
    expect(retryDelayMs(4, 0, DEFAULT_RETRY, hi)).toBe(0)
  })
})

describe('prices', () => {
  it('match dated model ids by their longest prefix and price all four token kinds', () => {
    const table = loadPrices()
    expect(priceFor('claude-haiku-4-5-20251001', table)).toEqual(table.models['claude-haiku-4-5'])
    expect(priceFor('claude-opus-4-1-20250805', table)).toEqual(table.models['claude-opus-4-1'])
    expect(priceFor('gpt-4o', table)).toBeUndefined()
    const p = { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 }
    expect(usageCost({ inputTokens: 1e6, outputTokens: 1e6, cacheReadTokens: 1e6, cacheWriteTokens: 1e6 }, p)).toBeCloseTo(7.35, 10)
  })
})
