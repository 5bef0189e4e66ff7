/**
 * The ways a program may write a secret's value: as it is, and in the
 * encodings programs commonly apply to text they print or send (JSON string
 * escapes, URL encoding, base64 at every alignment and wrapped in lines when
 * long, hex). Each way is a
 * `Form`: a sequence of units that must follow one another, a unit being one
 * character of the secret (or one run of base64/hex digits) with the
 * spellings it may take. A pattern of sets of characters, not a list of
 * strings: a secret of n characters has about 4^n mixtures of raw and
 * escaped characters, and programs do mix them (Python's `json.dumps` escapes
 * only what is not ASCII, `quote()` only what is not safe in a URL).
 */

/** The characters that may stand at one place (a string of them). */
type CharSet = string;
/** One way to write one unit: a character set per character written. */
export type Spelling = readonly CharSet[];
/** One unit of a secret and the spellings it may take. */
type Unit = readonly Spelling[];
/** A secret in one encoding: a match takes one spelling of each unit, in order. */
export type Form = readonly Unit[];

/**
 * What the forms are matched against: `text` is decoded output (JavaScript
 * strings); `bytes` is a file's bytes read as latin1, one character per byte,
 * so the raw value is its UTF-8 bytes there.
 */
export type Target = "text" | "bytes";

/**
 * Encoded forms (base64, hex) shorter than this are left out: a secret of a
 * few bytes has base64 forms of two or three characters, which ordinary text
 * is full of. A secret of 5 bytes or more has every base64 form this long.
 */
const MIN_ENCODED_LENGTH = 6;

/** Base64 forms longer than this may be wrapped across lines. */
const WRAPPED_BASE64_LENGTH = 60;

const JSON_SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "/": "\\/",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Every form of one secret, for matching against `target`. */
export function secretForms(secret: string, target: Target): Form[] {
  // Stryker disable next-line ConditionalExpression,ArrayDeclaration: SecretSet drops empty values; an empty secret has no form either way.
  if (secret.length === 0) return [];
  // Stryker disable next-line StringLiteral: Buffer.from encodes UTF-8 without an encoding too.
  const bytes = Buffer.from(secret, "utf8");
  const forms: Form[] = [textForm(secret, target)];
  const encoded = new Set<string>();
  for (const alignment of [0, 1, 2]) {
    const digits = base64Digits(bytes, alignment);
    encoded.add(digits);
    encoded.add(digits.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  for (const digits of encoded) {
    if (digits.length < MIN_ENCODED_LENGTH) continue;
    // Long base64 is often wrapped (PEM at 64 columns, MIME and coreutils at 76): a line break may come before any digit.
    const wrapped = digits.length > WRAPPED_BASE64_LENGTH;
    forms.push([...digits].map((c) => (wrapped ? [[c], ["\n", c], ["\r", "\n", c]] : [[c]])));
  }
  const hex = bytes.toString("hex");
  if (hex.length >= MIN_ENCODED_LENGTH) forms.push([...hex].map((c) => [[hexDigit(c)]]));
  return forms;
}

/**
 * The secret as text: each character raw, as a JSON escape (`\uXXXX` of
 * each UTF-16 unit in either case, or its short escape), or URL-encoded
 * (`%XX` of each UTF-8 byte in either case; `+` for a space), in any mixture.
 */
function textForm(secret: string, target: Target): Form {
  const units: Unit[] = [];
  for (const character of secret) {
    // Stryker disable next-line StringLiteral: Buffer.from encodes UTF-8 without an encoding too.
    const utf8 = Buffer.from(character, "utf8");
    const raw = target === "text" ? character : utf8.toString("latin1");
    const spellings: Spelling[] = [raw.split("")];
    let json = "";
    for (let i = 0; i < character.length; i++)
      json += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
    spellings.push(ciHex(json));
    const short = JSON_SHORT_ESCAPES[character];
    if (short) spellings.push([...short]);
    spellings.push(ciHex([...utf8].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")));
    if (character === " ") spellings.push(["+"]);
    units.push(spellings);
  }
  return units;
}

/** Its characters as sets; hex digits that are letters in both cases. */
function ciHex(text: string): Spelling {
  // The only letters after `\u` and `%` are hex digits, and `u` itself stays lower-case.
  // Stryker disable next-line ConditionalExpression,StringLiteral: `u` is no hex digit, so hexDigit keeps it as it is anyway.
  return text.split("").map((c, i) => (text[i - 1] === "\\" ? c : hexDigit(c)));
}

function hexDigit(c: string): CharSet {
  return /[a-f]/i.test(c) ? c.toLowerCase() + c.toUpperCase() : c;
}

/**
 * The base64 digits that encode `bytes` alone when they start `alignment`
 * bytes into a 3-byte group: the digits that also carry bits of the bytes
 * before or after are left out, as they depend on what surrounds the secret.
 */
function base64Digits(bytes: Buffer, alignment: number): string {
  const padded = Buffer.concat([Buffer.alloc(alignment), bytes]);
  // Stryker disable next-line Regex,StringLiteral: the padding lies past `end`, which the slice below cuts off anyway.
  const digits = padded.toString("base64").replace(/=+$/, "");
  const first = Math.ceil((alignment * 8) / 6);
  const end = Math.floor((padded.length * 8) / 6);
  return digits.slice(first, end);
}
