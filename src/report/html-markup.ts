/**
 * Server-side HTML for report.html. Every piece of text that goes into the
 * page passes through `escapeHtml`, and the `html` tag applies it to every
 * interpolated value: only `Html` values (markup built by this tag, or
 * constants wrapped with `trusted`) go in unescaped.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

export type Part = Html | string | number | null | undefined | false | readonly Part[]

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** The one escaping function for text put into the page's HTML (element content and quoted attribute values). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return ''
  if (part instanceof Html) return part.value
  if (Array.isArray(part)) return (part as readonly Part[]).map(render).join('')
  return escapeHtml(String(part))
}

/** Tagged template: the literal parts are markup, every value is escaped unless it is `Html`. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new Html(out)
}

/** Markup that is a constant of this program (the stylesheet, the script), never data. */
export function trusted(markup: string): Html {
  return new Html(markup)
}

/**
 * JSON for `<script type="application/json">`: `<` becomes \u003c so no
 * string can close the element or open a comment, and U+2028/2029 are escaped
 * too. Read back with JSON.parse(element.textContent).
 */
export function jsonForScript(value: unknown): string {
  // One pass over the JSON (20 MB at 100,000 cases), not one per character.
  return JSON.stringify(value).replace(/[<\u2028\u2029]/g, (c) => SCRIPT_ESCAPES[c]!)
}
const SCRIPT_ESCAPES: Record<string, string> = { '<': '\\u003c', '\u2028': '\\u2028', '\u2029': '\\u2029' }
