/** A program's error output as one line: its non-empty lines joined, at most 400 characters. */
export function oneLine(text: string | null | undefined): string {
  const lines = (text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.reduce((acc, l) => (acc ? `${acc}${acc.endsWith(":") ? " " : "; "}${l}` : l), "");
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}
