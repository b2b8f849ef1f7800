import { accessSync, constants, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** A Chromium already on this machine: CHROMIUM_PATH, then the system's, then Playwright's own cache. */
function localChromium(env: NodeJS.ProcessEnv = process.env): { path: string; from: string } | undefined {
  if (env.CHROMIUM_PATH) return { path: env.CHROMIUM_PATH, from: 'CHROMIUM_PATH' }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      if (dir && executable(path.join(dir, name))) return { path: path.join(dir, name), from: 'PATH' }
    }
  }
  const cache = env.PLAYWRIGHT_BROWSERS_PATH ?? path.join(os.homedir(), '.cache', 'ms-playwright')
  try {
    for (const build of readdirSync(cache).filter((d) => d.startsWith('chromium')).sort().reverse()) {
      for (const sub of ['chrome-linux64/chrome', 'chrome-linux/chrome']) if (executable(path.join(cache, build, sub))) return { path: path.join(cache, build, sub), from: 'the Playwright cache' }
    }
  } catch {
    // no Playwright cache
  }
  return undefined
}

/**
 * The browser for the report's tests: a local Chromium when there is one;
 * else the one @sparticuz/chromium ships inside its npm package (x64 Linux),
 * so `npm test` passes after `npm install` alone on a machine with no browser.
 */
export async function launchChromium(): Promise<{ browser: Browser; from: string }> {
  const local = localChromium()
  if (local) return { browser: await chromium.launch({ executablePath: local.path, args: FLAGS }), from: `${local.from} (${local.path})` }
  const packaged = (await import('@sparticuz/chromium')).default
  return { browser: await chromium.launch({ executablePath: await packaged.executablePath(), // --single-process (there for serverless) crashes after a few pages here.
    args: [...packaged.args.filter((a: string) => a !== '--single-process'), ...FLAGS] }), from: '@sparticuz/chromium' }
}
