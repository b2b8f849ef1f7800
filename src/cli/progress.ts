import type { Progress } from '../run/evaluate.js'

/**
 * Progress on stderr, so stdout stays the result: a bar redrawn in place on a
 * TTY; otherwise a plain line every 10% (at most every 2 s, at least every
 * 10 s), so CI logs of a slow run show it alive and a fast run prints one line.
 */
export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now()
  let finished = 0
  let sentFinished = 0
  let firstSentAt = 0
  let errors = 0
  let retries = 0
  let usd = 0
  let priced = false
  let lastLine = 0
  let lastDecile = -1
  let lastDraw = 0
  // Following rate limits: the requests allowed in flight now, the fewest and the most so far, of at most `max`.
  let window: { now: number; least: number; most: number; max: number } | undefined
  const tty = stream.isTTY === true

  const text = () => {
    const pct = total === 0 ? 100 : Math.floor((finished / total) * 100)
    const elapsed = (Date.now() - started) / 1000
    // The ETA counts only requests really sent (journal hits finish instantly and would make it lie), timed from the
    // first one's end: a warm-up request or a batch's wait before the first result is no rate.
    const left = total - finished
    const pace = sentFinished > 1 ? (Date.now() - firstSentAt) / 1000 / (sentFinished - 1) : 0
    const eta = pace > 0 && left > 0 ? ` · eta ${Math.ceil(pace * left)}s` : ''
    const parts = [`${finished}/${total} (${pct}%)`]
    if (errors > 0) parts.push(`${errors} errors`)
    if (retries > 0) parts.push(`${retries} retries`)
    if (priced) parts.push(`$${usd.toFixed(4)}`)
    if (window && window.now < window.max) parts.push(`${window.now} of ${window.max} in flight (rate limits)`)
    return `${label} ${parts.join(' · ')}${eta}`
  }
  const draw = () => {
    if (tty) {
      // A redraw a frame at most: a 20,000-prompt lexical run would otherwise write 20,000 lines to the terminal.
      const now = Date.now()
      if (now - lastDraw < 50 && finished < total) return
      lastDraw = now
      const width = 24
      const filled = total === 0 ? width : Math.round((finished / total) * width)
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text()}\u001b[K`)
      return
    }
    const decile = total === 0 ? 10 : Math.floor((finished / total) * 10)
    const since = Date.now() - Math.max(lastLine, started)
    if ((decile > lastDecile && since >= 2000) || since >= 10_000) {
      lastDecile = decile
      lastLine = Date.now()
      if (finished < total) stream.write(`${text()}\n`)
    }
  }

  return {
    tick(outcome) {
      finished++
      if (!outcome.cached && sentFinished++ === 0) firstSentAt = Date.now()
      if (outcome.failed) errors++
      if (outcome.usd !== undefined) {
        priced = true
        usd += outcome.usd
      }
      draw()
    },
    retry() {
      retries++
      if (tty) draw()
    },
    window(inFlight, max) {
      window = window ? { now: inFlight, least: Math.min(window.least, inFlight), most: Math.max(window.most, inFlight), max } : { now: inFlight, least: inFlight, most: inFlight, max }
      if (tty) draw()
    },
    done() {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      // Whether the rate limits held the run back: how many requests it let fly, against --concurrency.
      const limited = window && window.least < window.max ? `${window.least}–${window.most} of ${window.max} in flight (rate limits)` : ''
      const extras = [errors > 0 ? `${errors} errors` : '', retries > 0 ? `${retries} retries` : '', priced ? `$${usd.toFixed(4)}` : '', limited].filter(Boolean)
      stream.write(`${tty ? '\r' : ''}${label} ${finished}/${total} done in ${seconds}s${extras.length > 0 ? `, ${extras.join(', ')}` : ''}${tty ? '\u001b[K' : ''}\n`)
    },
  }
}
