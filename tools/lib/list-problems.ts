/** One problem on one line; several as a count followed by one indented line each. */
export function listProblems(problems: readonly string[]): string {
  if (problems.length === 1) return problems[0];
  return `${problems.length} problems:\n${problems.map((p) => `  ${p}`).join("\n")}`;
}
