/**
 * Progress on stderr, so stdout stays the result: a bar redrawn in place on a
 * TTY; otherwise a plain line every 10% (at most every 2 s, at least every
 * 10 s), so CI logs of a slow run show it alive and a fast run prints one line.
 */
export type Progress = {
  tick(failed: boolean): void
  done(): void
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now()
  let finished = 0
  let errors = 0
  let lastLine = 0
  let lastDecile = -1
  const tty = stream.isTTY === true

  const text = () => {
    const pct = total === 0 ? 100 : Math.floor((finished / total) * 100)
    const elapsed = (Date.now() - started) / 1000
    const eta = finished > 0 && finished < total ? ` · eta ${Math.ceil((elapsed / finished) * (total - finished))}s` : ''
    return `${label} ${finished}/${total} (${pct}%)${errors > 0 ? ` · ${errors} errors` : ''}${eta}`
  }

  return {
    tick(failed) {
      finished++
      if (failed) errors++
      if (tty) {
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
    },
    done() {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      stream.write(`${tty ? '\r' : ''}${label} ${finished}/${total} done in ${seconds}s${errors > 0 ? `, ${errors} errors` : ''}${tty ? '\u001b[K' : ''}\n`)
    },
  }
}
