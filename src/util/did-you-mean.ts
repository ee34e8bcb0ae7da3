// Suggestions for misspelt words (field names, join methods, system roles): a typo should
// cost the operator one glance at the message, not a trip to the docs.

/** The closest option within two edits, if any. */
export function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const option of options) {
    const d = editDistance(word.toLowerCase(), option.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = option;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or ` (expected one of: a, b)`, ready to append to a message. */
export function suggestion(word: string, options: readonly string[]): string {
  const near = closest(word, options);
  return near ? ` (did you mean "${near}"?)` : ` (expected one of: ${options.join(", ")})`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
