#!/usr/bin/env node
import { createProgress } from './progress.js'
import { run, version } from './run.js'

/**
 * The program: the process's I/O around `run`. Ctrl-C once, during a command
 * that routes, stops sending and still writes the run folder; twice quits at
 * once. Elsewhere Ctrl-C quits as usual.
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
    const onSigint = () => {
      if (stop.signal.aborted) process.exit(130)
      process.stderr.write('\nstopping: finishing the requests in flight (Ctrl-C again to quit now)\n')
      stop.abort()
    }
    process.on('SIGINT', onSigint)
    return { signal: stop.signal, release: () => void process.off('SIGINT', onSigint) }
  },
})
