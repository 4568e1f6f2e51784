// The chat's input rules, the same as the lab's nodes (node/username.go,
// node/packet.go), so that bad input gets the same answer whichever server
// a client lands on.

// characters counts Unicode code points, as the nodes' limits do.
export const characters = (s) => [...s].length;

// textArg is an event's first argument as text, the way the tutorial's
// Python app would print it, or null for anything that is not text.
export function textArg(args) {
  const v = args[0];
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  return null;
}

// Go's unicode.IsSpace, which the nodes use (JavaScript's trim also counts
// U+FEFF).
const onlySpaces = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;
const hex = (cp) => "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
// C0, DEL and C1 controls: Go's unicode.IsControl.
const isControl = (cp) => cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
// Explicit embeddings, overrides and isolates of the bidirectional algorithm.
const isBidiControl = (cp) => (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);

// usernameProblem says what is wrong with a requested username, or "" if it
// may be set. A name is shown in front of every line its user writes, so one
// that shows as nothing, breaks a line or reorders the text around it is
// refused rather than cleaned up.
export function usernameProblem(name, max) {
  if (name === "") return "it is empty.";
  const n = characters(name);
  if (n > max) return `it is ${n} characters long, the limit is ${max}.`;
  if (onlySpaces.test(name)) return "it is only spaces.";
  let pos = 0;
  for (const ch of name) {
    pos++;
    const cp = ch.codePointAt(0);
    if (isControl(cp)) {
      return `it contains the control character ${hex(cp)} at position ${pos}; use letters, digits, punctuation and spaces.`;
    }
    if (isBidiControl(cp)) {
      return `it contains the bidirectional control ${hex(cp)}, which reorders how the text around it is shown; use letters, digits, punctuation and spaces.`;
    }
  }
  return "";
}
