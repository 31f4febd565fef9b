/** Whether this process runs as a step of a GitHub Actions job: the runner sets GITHUB_ACTIONS=true for every step. */
export function isGitHubActions(env: Record<string, string | undefined>): boolean {
  return env['GITHUB_ACTIONS'] === 'true';
}
