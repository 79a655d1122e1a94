/** The tools' one secret masker (drift, review): a secret never gets out, plain or encoded. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MASK, secretMasker, secretsOf } from "../../tools/lib/secret-masker";

/** Chosen so that its standard base64 has "+" and "/" (and the URL-safe one "-" and "_"), and it needs percent-encoding. */
const SECRET = "s3cr3t/?~>>?&x y";
const mask = secretMasker([SECRET]);

function assertMasked(text: string, what: string): void {
  const masked = mask(text);
  assert.ok(masked.includes(MASK), `${what}: nothing masked in ${text}`);
  assert.ok(!masked.includes(SECRET), what);
}

test("the secret itself, wherever it is, as often as it appears", () => {
  assert.equal(mask(`token=${SECRET}; again: ${SECRET}.`), `token=${MASK}; again: ${MASK}.`);
  assert.equal(mask("nothing to hide"), "nothing to hide");
  assert.equal(secretMasker([])("anything"), "anything");
});

test("base64, standard and URL-safe, padded or not", () => {
  const standard = Buffer.from(SECRET).toString("base64");
  assert.match(standard, /[+/]/, "the test secret exercises the standard alphabet's own characters");
  for (const encoded of [standard, standard.replace(/=+$/, ""), Buffer.from(SECRET).toString("base64url")]) {
    assert.equal(mask(`echo: ${encoded}!`), `echo: ${MASK}!`, encoded);
  }
});

test("base64 of a longer text that contains the secret at any offset (a Basic authorization header)", () => {
  for (const user of ["u", "us", "usr", "user1"]) {
    const header = Buffer.from(`${user}:${SECRET}`).toString("base64");
    const masked = mask(`Authorization: Basic ${header}`);
    assert.ok(masked.includes(MASK), `user ${user}: ${masked}`);
    // What is left around the mask are the few characters that mix the user name (or padding) with the secret's first or last bits.
    const left = masked.slice("Authorization: Basic ".length).split(MASK).join("");
    assert.ok(left.length <= Math.ceil(((user.length + 1) * 4) / 3) + 4, `user ${user}: ${masked}`);
    assert.ok(!Buffer.from(left, "base64").toString("latin1").includes(SECRET.slice(0, 4)), `user ${user}: ${masked}`);
  }
});

test("percent-encoding, with hex digits in either case, partly encoded, and form-encoded spaces", () => {
  const upper = encodeURIComponent(SECRET);
  const forms = [
    upper,
    upper.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    upper.replace(/%20/g, "+"),
    SECRET.replace("/", "%2f").replace("&", "%26"),
  ];
  for (const encoded of forms)
    assert.equal(
      mask(`https://example.invalid/cb?code=${encoded}&state=1`),
      `https://example.invalid/cb?code=${MASK}&state=1`,
      encoded,
    );
  // Every character of a multi-byte secret, as UTF-8 bytes.
  const accented = "pässwörd-€-1";
  assert.equal(secretMasker([accented])(`q=${encodeURIComponent(accented)}`), `q=${MASK}`);
});

test("hex, either case", () => {
  const hex = Buffer.from(SECRET).toString("hex");
  assertMasked(`bytes ${hex}`, "lower-case hex");
  assertMasked(`bytes ${hex.toUpperCase()}`, "upper-case hex");
});

test("several secrets, the longer first where one contains another", () => {
  const both = secretMasker(["abc123xyz", "abc123xyz-long-form"]);
  assert.equal(both("a abc123xyz-long-form b abc123xyz"), `a ${MASK} b ${MASK}`);
});

test("a short secret masks itself, but not its encodings, which would match unrelated text", () => {
  const short = secretMasker(["k9"]);
  // Its hex and base64: four characters each, found in any hash or id.
  assert.equal(short("k9, 6b39, azk="), `${MASK}, 6b39, azk=`);
});

test("what is masked: the Databricks credentials and Terraform's secret variables, nothing else", () => {
  const env = {
    DATABRICKS_TOKEN: "t",
    DATABRICKS_CLIENT_SECRET: "c",
    DATABRICKS_PASSWORD: "p",
    TF_VAR_secret_api_key: "k",
    TF_VAR_secret_empty: "",
    TF_VAR_other: "o",
    DATABRICKS_HOST: "h",
    PATH: "/bin",
  };
  assert.deepEqual(secretsOf(env).sort(), ["c", "k", "p", "t"]);
});
