#!/usr/bin/env node
import { startTiming } from '../text/timing.js'
import { createProgress } from './progress.js'
import { run, version } from './run.js'

startTiming(process.env, (line) => void process.stderr.write(line))

/** Ctrl-C, a CI runner's cancel (SIGTERM) and a closed terminal (SIGHUP) all stop a run the same way. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }

/**
 * The program: the process's I/O around `run`. A stop signal once, during a
 * command that routes, stops sending and still writes the run folder; twice
 * quits at once. Elsewhere a signal quits as usual.
 */
process.exitCode = await run(process.argv.slice(2), {
  out: (t) => void process.stdout.write(t),
  annotate: (t) => void process.stdout.write(t),
  warn: (t) => void process.stderr.write(t),
  color: process.stdout.isTTY === true,
  env: process.env,
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  now: () => new Date(),
  progress: (label, total) => createProgress(label, total),
  toolVersion: version(),
  signal: new AbortController().signal,
  stoppable() {
    const stop = new AbortController()
    const onSignal = (signal: NodeJS.Signals) => {
      // A second signal quits at once; the journal is appended a line at a time, so it stays whole.
      if (stop.signal.aborted) process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 2))
      process.stderr.write(`\nstopping (${signal}): finishing the requests in flight, then writing the run folder (again to quit now)\n`)
      stop.abort()
    }
    for (const s of STOP_SIGNALS) process.on(s, onSignal)
    return { signal: stop.signal, release: () => void STOP_SIGNALS.forEach((s) => process.off(s, onSignal)) }
  },
})
