import { fileAtRef } from '../load/git.js'
import { InputError } from '../load/input-error.js'
import { baselineFromText, MAX_BASELINE_BYTES, readBaseline, type Baseline } from './baseline.js'

/** The flag that names the revision; messages quote it (the config key gate.baselineRef is the same). */
export const BASELINE_REF_FLAG = '--baseline-ref'

/**
 * Where the gate's baseline came from when it was read at a git revision (gate.json `baselineRef`).
 * A pull request that re-makes the baseline would otherwise be compared with itself: the gate
 * takes its reference from the branch the pull request goes into.
 */
export type BaselineRef = {
  /** the revision as given (a branch, a tag, the base commit's sha) */
  ref: string
  /** the commit it named */
  commit: string
  /** the baseline file's path from the repository's root */
  file: string
  /** REF has the file; false: it has none (the pull request adopting routecheck), and the gate compared with the working tree's */
  atRef: boolean
  /** the working tree's baseline is not REF's (changed, re-made or removed): the pull request changes the baseline */
  workingCopyDiffers: boolean
}

/** The baseline the gate compares with: where it is, the name messages give it, and, read at a revision, which. */
export type GateBaseline = {
  baseline: Baseline
  /** the file in the working tree (what --out must not overwrite) */
  file: string
  /** what messages call it: `REF:path` when read at REF, else the file */
  name: string
  ref?: BaselineRef
}

/**
 * The gate's baseline: `file` as it is at git revision `ref` when one is given (the working tree's
 * when REF has none), else the file as it is. Checked exactly as a file is, either way.
 */
export async function loadGateBaseline(file: string, ref: string | undefined, opts: { allowIncomplete?: boolean | undefined }): Promise<GateBaseline> {
  const check = { allowIncomplete: opts.allowIncomplete ?? false }
  if (ref === undefined) return { baseline: await readBaseline(file, check), file, name: file }
  const found = await fileAtRef(file, ref, { flag: BASELINE_REF_FLAG, maxBytes: MAX_BASELINE_BYTES })
  const source: BaselineRef = { ref, commit: found.commit, file: found.repoPath, atRef: found.blob !== undefined, workingCopyDiffers: found.workingCopy !== 'same' }
  if (!found.blob) {
    if (found.workingCopy === 'absent') {
      throw new InputError([{ file, message: `the baseline file is neither in the working tree nor at ${refLabel(source)} (${BASELINE_REF_FLAG})`, fix: 'make one with `routecheck baseline` and commit it, or pass --baseline FILE' }])
    }
    return { baseline: await readBaseline(file, check), file, name: file, ref: source }
  }
  const name = `${ref}:${found.repoPath}`
  return { baseline: baselineFromText(name, found.blob, check), file, name, ref: source }
}

/** The revision as people read it: the ref and its commit, or the short commit alone when the ref is one. */
export function refLabel(r: Pick<BaselineRef, 'ref' | 'commit'>): string {
  const short = r.commit.slice(0, 12)
  return /^[0-9a-f]{4,40}$/i.test(r.ref) && r.commit.startsWith(r.ref.toLowerCase()) ? short : `${r.ref} (${short})`
}

/** Which copy of the baseline file, after its name: ` at main (1a2b3c4d5e6f)`, or nothing without --baseline-ref. */
export function refSuffix(r: BaselineRef | undefined): string {
  if (!r) return ''
  return r.atRef ? ` at ${refLabel(r)}` : ` (the working tree's: ${refLabel(r)} has none)`
}

/** Where the baseline is, for the gate's header line: `reports/baseline.json at main (1a2b3c4d5e6f)`. */
export const baselineWhere = (file: string, r: BaselineRef | undefined): string => `${file}${refSuffix(r)}`

/**
 * One line when the baseline read is not simply REF's and the working tree's alike: the pull
 * request changes it (REF's judges it; the new one counts once merged), or REF has none (the
 * pull request's own judges it, so nothing the pull request did is gated). Nothing otherwise.
 */
export function baselineRefNote(r: BaselineRef | undefined): string | undefined {
  if (!r) return undefined
  const at = refLabel(r)
  if (!r.atRef) {
    return `baseline: ${at} has no ${r.file} (as in the pull request that adopts routecheck), so the gate compares with the working tree's, the pull request's own: it gates nothing this pull request did; once merged, it is the reference`
  }
  if (r.workingCopyDiffers) {
    return `baseline: this pull request changes ${r.file}; the gate compares with the one at ${at}, since a baseline re-made in the pull request cannot judge it; the new one takes effect once merged`
  }
  return undefined
}
