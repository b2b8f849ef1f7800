import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeAtomic } from '../src/run/files.js'
import { setSecrets } from '../src/text/safe.js'

const KEY = 'sk-ant-write-atomic-0123456789'

describe('writeAtomic, piece by piece', () => {
  afterEach(() => setSecrets({}))

  it('writes the pieces joined, however they fall across its 64 KB writes, with every secret redacted', async () => {
    setSecrets({ ANTHROPIC_API_KEY: KEY })
    const dir = await mkdtemp(path.join(tmpdir(), 'routecheck-write-'))
    // Pieces from a few bytes to 200 KB, some holding the key, some multi-byte: 3 MB in all.
    const pieces = Array.from({ length: 400 }, (_, i) => `${i}:${'é—x'.repeat((i * 7919) % 2000)}${i % 13 === 0 ? ` key=${KEY} ` : ''}${i % 50 === 0 ? 'y'.repeat(200_000) : ''}\n`)
    const file = path.join(dir, 'out.txt')
    await writeAtomic(file, pieces)
    const text = await readFile(file, 'utf8')
    expect(text).toBe(pieces.join('').split(KEY).join('[redacted]'))
    expect(text).not.toContain(KEY)
    expect(await readdir(dir)).toEqual(['out.txt'])
  })

  it('a failure while the pieces are made, with a write still going, rejects with that failure and leaves no file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'routecheck-write-'))
    function* failing(): Generator<string> {
      for (let i = 0; i < 20; i++) yield 'z'.repeat(40_000)
      throw new Error('the report could not be made')
    }
    await expect(writeAtomic(path.join(dir, 'out.txt'), failing())).rejects.toThrow('the report could not be made')
    expect(await readdir(dir)).toEqual([])
  })
})
