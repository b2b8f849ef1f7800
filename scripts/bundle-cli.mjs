// Bundles the CLI (src/cli/main.ts and everything it imports, zod, yaml and
// csv-parse included) with esbuild into dist/cli/main.js, over tsc's output:
// Node 20 loads one module in a fraction of the time it takes to resolve,
// read and link the ~200 it replaces. The modules only some runs need (the
// anthropic router with @anthropic-ai/sdk, report.html, the claude-code
// router) stay in chunks of their own beside it, loaded when first imported,
// so a lexical run never reads them. Measured with ROUTECHECK_TIMING=1 on an
// anthropic run, module loading and the router's creation: 540–630 ms of CPU
// before (all modules, the SDK's 300 included), 200–230 ms bundled and lazy.
// The chunks sit in dist/cli/, two folders
// under the package root like every file tsc writes, so paths a module finds
// from import.meta.url (the template, package.json) resolve the same.
// `npm run build` runs this after tsc; tests of the CLI run the bundle.
import { build } from 'esbuild'
import { readdirSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

// Chunks are named by their content: an earlier build's are stale.
for (const f of readdirSync(`${root}dist/cli`)) if (/^chunk-[A-Z0-9]+\.js(\.map)?$/.test(f)) rmSync(`${root}dist/cli/${f}`)

await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: 'dist/cli',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Optional, and found at run time where it is installed: never bundled.
  external: ['@anthropic-ai/claude-agent-sdk'],
  // Bundled CommonJS dependencies may still call require() for Node's own modules.
  banner: { js: "import { createRequire as __routecheckRequire } from 'node:module'; const require = __routecheckRequire(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
  plugins: [zodEnglishOnly()],
})

/**
 * zod exports every locale's error messages as one namespace (`z.locales`),
 * which no bundler can tree-shake: 368 kB of the start-up chunk that every
 * command parses, about a third of it. routecheck speaks English (zod's
 * default, which zod itself imports from locales/en.js), so the namespace
 * keeps `en` alone.
 */
function zodEnglishOnly() {
  return {
    name: 'zod-english-only',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer) ? { path: args.importer.replace(/(classic|core)[\\/][^\\/]+$/, 'locales/index.js'), namespace: 'zod-locales' } : undefined,
      )
      b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
        contents: "export { default as en } from './en.js'\n",
        resolveDir: args.path.replace(/[\\/]index\.js$/, ''),
      }))
    },
  }
}
