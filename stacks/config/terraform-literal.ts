/**
 * The boundary between text from outside (YAML values and keys, file names) and the Terraform JSON the
 * constructs write. Terraform reads every JSON string, object keys included, as a template: `${…}`
 * interpolates and `%{…}` is a directive, so a description `${file("/etc/passwd")}` would be evaluated by
 * `terraform apply`. Outside text therefore enters the constructs only through `terraformLiteral`, which
 * escapes both (`$${`, `%%{`) so that Terraform sees exactly the text that was written. The backend block
 * is the one exception: Terraform reads it literally, without templates, so it takes text as written.
 *
 * cdktf scans strings too, for its own token encodings, and substitutes what it finds; no escape exists for
 * those, so text holding one is rejected (`cdktfTokenIn`) where the configuration is loaded.
 */

/** cdktf's string, list and map token markers (`${TfToken[…]}`, `#{TfToken[…]}`, `&{TfToken[…]}`). */
const TOKEN_MARKER = /[$#&]\{TfToken\[/;
/** Strings cdktf refuses outright as map tokens used where a string belongs. */
const MAP_TOKEN_VALUES = new Set(["String Map Token Value", "Any Map Token Value"]);
/** How cdktf finds numbers in a string that may be encoded number tokens (cdktf 0.21 lib/tokens/private/encoding). */
const NUMBER_CANDIDATE = /[-|\d|.+]+(e[-|\d|.|e|E|+]+)/g;
/** The top 16 bits of a double that encodes a cdktf number token. */
const NUMBER_TOKEN_BITS = 0xfdff;

/**
 * What in `text` cdktf would take for one of its tokens and replace during synthesis, or undefined when
 * cdktf passes `text` through unchanged.
 */
export function cdktfTokenIn(text: string): string | undefined {
  const marker = TOKEN_MARKER.exec(text);
  if (marker) return `${marker[0]}…`;
  if (MAP_TOKEN_VALUES.has(text)) return text;
  for (const [candidate] of text.matchAll(NUMBER_CANDIDATE)) {
    if (isNumberToken(Number.parseFloat(candidate))) return candidate;
  }
  return undefined;
}

function isNumberToken(x: number): boolean {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getUint16(0) === NUMBER_TOKEN_BITS;
}

/**
 * `text` as a Terraform JSON string (value or object key) that evaluates to exactly `text`.
 * @throws Error when `text` holds a cdktf token encoding: validate outside text with `cdktfTokenIn` first
 */
export function terraformLiteral(text: string): string {
  const token = cdktfTokenIn(text);
  if (token !== undefined)
    throw new Error(
      `${JSON.stringify(text)}: cdktf would replace ${JSON.stringify(token)} in it; reject such text where it is read`,
    );
  // Replacer functions: in a replacement string, "$$" would itself mean one "$".
  return text.replaceAll("${", () => "$${").replaceAll("%{", () => "%%{");
}

/** `value` with every string in it, mapping keys included, made a Terraform literal (`terraformLiteral`). */
export function terraformLiterals<T>(value: T): T {
  if (typeof value === "string") return terraformLiteral(value) as T;
  if (Array.isArray(value)) return value.map((item) => terraformLiterals(item)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [terraformLiteral(k), terraformLiterals(v)])) as T;
  }
  return value;
}

/**
 * The text a Terraform JSON string evaluates to when it is a pure literal (escapes only), or undefined when
 * it interpolates (`${`) or has a directive (`%{`): then its value is known only to Terraform.
 */
export function literalText(template: string): string | undefined {
  let text = "";
  for (let i = 0; i < template.length; ) {
    if (template.startsWith("$${", i) || template.startsWith("%%{", i)) {
      text += template.slice(i + 1, i + 3);
      i += 3;
    } else if (template.startsWith("${", i) || template.startsWith("%{", i)) {
      return undefined;
    } else {
      text += template[i];
      i += 1;
    }
  }
  return text;
}
