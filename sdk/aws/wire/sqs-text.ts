/**
 * SQS takes message bodies of XML characters only (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
 * #x10000-#x10FFFF) and refuses the whole send otherwise. JSON.stringify already escapes
 * control characters and lone surrogates; U+FFFE and U+FFFF it leaves as they are. The embedded
 * emulator also refuses characters above U+FFFF, which SQS takes, so those are escaped too (as
 * their surrogate pair): one encoding that both accept. Such characters only stand inside JSON
 * strings, so escaping them there keeps the same JSON value.
 */
const ESCAPED = /[\uFFFE\uFFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

const hex = (unit: number) => `\\u${unit.toString(16).padStart(4, "0")}`;

/** `json` with the characters SQS (or the emulator) refuses escaped, the value it holds unchanged. */
export function sqsSafeJson(json: string): string {
  ESCAPED.lastIndex = 0;
  if (!ESCAPED.test(json)) return json;
  return json.replace(ESCAPED, (c) =>
    c.length === 2 ? hex(c.charCodeAt(0)) + hex(c.charCodeAt(1)) : hex(c.charCodeAt(0)),
  );
}
