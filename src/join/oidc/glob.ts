// The reference's glob for some GitLab allow fields: `*` matches any run of characters
// (slashes included), `?` exactly one; everything else is literal. Matched without building a
// regular expression from the pattern, so no pattern can be made slow to evaluate (the
// two-pointer walk below is at most pattern × text steps, and both are short).

export function globMatch(pattern: string, text: string): boolean {
  const p = [...pattern];
  const t = [...text]; // by code point, so `?` is one character, not one UTF-16 unit
  let pi = 0;
  let ti = 0;
  let star = -1; // position in p of the last `*` seen
  let mark = 0; // position in t that `*` has consumed up to
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === "?" || (p[pi] !== "*" && p[pi] === t[ti]))) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === "*") {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}
