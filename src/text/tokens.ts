/**
 * Token estimates for figures shown before anything is sent (dry runs, cost
 * budgets, description lint): about 4 characters a token, the usual rough
 * figure for English prose. Real counts come back in each response's usage.
 */
export const CHARS_PER_TOKEN = 4

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN)
}
