/** Prints `rows` (the first is the header, underlined) as aligned columns; those in `right` right-aligned. */
export function printTable(rows: readonly string[][], right: readonly number[]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, row] of rows.entries()) {
    console.log(
      `  ${row
        .map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join("  ")
        .trimEnd()}`,
    );
    if (i === 0) console.log(`  ${widths.map((w) => "-".repeat(w)).join("  ")}`);
  }
}
