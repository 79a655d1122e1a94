/**
 * The tools' one secret masker. Every credential and secret value the process was given is replaced by
 * `(sensitive)` wherever it appears in what a tool prints or writes, also encoded the ways a server or a tool
 * echoes a value back: percent-encoded (any mix of escaped and plain characters, hex digits in either case,
 * `+` for a space), base64 (standard and URL-safe, padded or not, and inside a longer encoded text such as a
 * Basic authorization header, where it starts at any byte) and hex.
 */

export const MASK = "(sensitive)";

/** The credentials the Databricks tools read (as the SDK and the provider do). */
const CREDENTIAL_VARIABLES = ["DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_PASSWORD"];
/** Terraform's secret variables: each `secrets.keys` entry becomes `secret_<key>` (stacks/config/secret-variable.ts). */
const SECRET_VARIABLE_PREFIX = "TF_VAR_secret_";

/** The values to mask in `env`: the credentials and every `TF_VAR_secret_*` variable that is set. */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(
      ([name, value]) => value && (CREDENTIAL_VARIABLES.includes(name) || name.startsWith(SECRET_VARIABLE_PREFIX)),
    )
    .map(([, value]) => value as string);
}

/**
 * An encoded form shorter than this is not masked: it would match unrelated text (a hash, an id), and it
 * carries too little of the secret to matter. The secret itself, percent-encoded or not, is always masked.
 */
const MIN_ENCODED_LENGTH = 8;

/** A function that masks `secrets` and their encodings in a text. */
export function secretMasker(secrets: readonly string[]): (text: string) => string {
  const values = [...new Set(secrets.filter(Boolean))];
  if (!values.length) return (text) => text;
  const encoded = [...new Set(values.flatMap(encodings))]
    .filter((e) => e.length >= MIN_ENCODED_LENGTH)
    .sort((a, b) => b.length - a.length);
  const plain = values.sort((a, b) => b.length - a.length).map(percentEncodedPattern);
  const pattern = new RegExp([...encoded.map(escapeRegExp), ...plain].join("|"), "g");
  return (text) => text.replace(pattern, MASK);
}

/** `secret` as base64 (standard and URL-safe) and hex. */
function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const base64 = [bytes.toString("base64"), ...[0, 1, 2].map((shift) => base64Fragment(bytes, shift))];
  const forms = base64.flatMap((b) => [b, b.replace(/=+$/, "")]);
  return [
    ...forms,
    ...forms.map((b) => b.replace(/\+/g, "-").replace(/\//g, "_")),
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase(),
  ];
}

/**
 * The base64 characters that encode `bytes` alone when they start `shift` bytes into a longer encoded text:
 * the characters whose six bits all come from `bytes`, whatever comes before and after.
 */
function base64Fragment(bytes: Buffer, shift: number): string {
  const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
  return encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
}

/** `secret` with each character as itself or percent-encoded (either case), a space also as `+`. */
function percentEncodedPattern(secret: string): string {
  return Array.from(secret, (char) => {
    const escaped = [...Buffer.from(char, "utf8")]
      .map((byte) => `%${hexDigit(byte >> 4)}${hexDigit(byte & 15)}`)
      .join("");
    return `(?:${escapeRegExp(char)}|${escaped}${char === " " ? "|\\+" : ""})`;
  }).join("");
}

function hexDigit(n: number): string {
  const digit = n.toString(16);
  return n < 10 ? digit : `[${digit}${digit.toUpperCase()}]`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
