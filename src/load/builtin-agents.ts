/**
 * Claude Code's own agents (2.1.x), which it lists next to a project's
 * agents in every routing request. A dataset may accept them as labels ("a
 * codebase search belongs to Explore"); the catalogue never defines them. A
 * catalogue agent of the same name shadows the built-in, as in Claude Code.
 */
export const BUILTIN_AGENTS: readonly string[] = ['general-purpose', 'Explore', 'Plan', 'statusline-setup', 'output-style-setup', 'claude']

export const isBuiltinAgent = (name: string): boolean => BUILTIN_AGENTS.includes(name)
