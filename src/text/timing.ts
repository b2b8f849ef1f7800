/**
 * Phase timings for whoever asks (`ROUTECHECK_TIMING=1`): one stderr line as
 * each phase of a command ends, with its wall time and the CPU the process
 * spent in it, then the whole run at exit, start to exit, with the peak RSS.
 * `npm run bench` reads these lines to say where a user's wait goes. Off by
 * default, and then each `phaseEnd` is one comparison: the phases are coarse
 * (a handful a run), never per request.
 *
 *   timing  node           41.2 ms  cpu    38.0 ms
 *   timing  imports       201.7 ms  cpu   230.1 ms
 *   …
 *   timing  total        1623.0 ms  cpu  1890.3 ms  peak rss 203 MB
 */

type Recorder = { write: (line: string) => void; lastMs: number; lastCpuUs: number }

let recorder: Recorder | undefined

/** The environment variable that turns timings on. */
export const TIMING_ENV = 'ROUTECHECK_TIMING'

const cpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const line = (name: string, ms: number, cpuMs: number, extra = '') => `timing  ${name.padEnd(14)}${ms.toFixed(1).padStart(9)} ms  cpu ${cpuMs.toFixed(1).padStart(9)} ms${extra}\n`

/**
 * Starts recording when the environment asks for it. The first two phases
 * are the process's own: Node's start-up (to the end of its bootstrap) and
 * the loading of routecheck's modules (from there to this call, made as the
 * CLI's first statement). The CPU of the two is reported together on the
 * second line, since Node does not split it.
 */
export function startTiming(env: Readonly<Record<string, string | undefined>>, write: (line: string) => void): void {
  if (!env[TIMING_ENV] || env[TIMING_ENV] === '0') return
  const now = performance.now()
  const boot = performance.nodeTiming.bootstrapComplete
  const cpu = cpuUs()
  write(line('node', boot, 0))
  write(line('imports', now - boot, cpu / 1000))
  recorder = { write, lastMs: now, lastCpuUs: cpu }
  process.once('exit', () => {
    phaseEnd('exit')
    const total = performance.now()
    write(line('total', total, cpuUs() / 1000, `  peak rss ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`))
  })
}

/** The phase that ran since the previous one ended is over: print its name, wall time and CPU. */
export function phaseEnd(name: string): void {
  if (!recorder) return
  const now = performance.now()
  const cpu = cpuUs()
  recorder.write(line(name, now - recorder.lastMs, (cpu - recorder.lastCpuUs) / 1000))
  recorder.lastMs = now
  recorder.lastCpuUs = cpu
}

/** Whether phases are being recorded (to skip work done only to name a phase). */
export function timingOn(): boolean {
  return recorder !== undefined
}
