/**
 * The page builds every data-driven element here, with createElement and
 * textContent: no data ever reaches innerHTML, an attribute handler or a URL.
 */

export type Attrs = Record<string, string | number | boolean | null | undefined>
export type Kid = Node | string | null | undefined | false

/** An element with attributes (`text` sets its text, `className` its class; null, undefined and false are left out) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, kids?: readonly Kid[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k]
      if (v === undefined || v === null || v === false) continue
      if (k === 'text') e.textContent = String(v)
      else if (k === 'className') e.className = String(v)
      else e.setAttribute(k, v === true ? '' : String(v))
    }
  }
  if (kids) {
    for (const c of kids) {
      if (c === null || c === undefined || c === false) continue
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c)
    }
  }
  return e
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null
}

/** The closest element matching `selector` from an event's target, if the target is an element. */
export function closest<T extends Element>(target: EventTarget | null, selector: string): T | null {
  return target instanceof Element ? target.closest<T>(selector) : null
}
