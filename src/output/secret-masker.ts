import { type Form, type Spelling, secretForms, type Target } from "./secret-forms.js";

export const MASK = "***";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function spellingSource(spelling: Spelling): string {
  return spelling
    .map((set) => (set.length === 1 ? escapeRegExp(set) : `[${escapeRegExp(set)}]`))
    .join("");
}

function formSource(form: Form): string {
  return form
    .map((unit) =>
      unit.length === 1
        ? spellingSource(unit[0] ?? [])
        : `(?:${unit.map(spellingSource).join("|")})`,
    )
    .join("");
}

/** Whether `text` from `position` could be the beginning of a match of `form` that the end of `text` cut off. */
function cutOff(form: Form, text: string, position: number, unit: number): boolean {
  const spellings = form[unit];
  if (!spellings) return false;
  for (const spelling of spellings) {
    let at = position;
    let fits = true;
    for (const set of spelling) {
      if (at === text.length) return true;
      if (!set.includes(text[at] as string)) {
        fits = false;
        break;
      }
      at++;
    }
    if (!fits) continue;
    if (at === text.length) {
      if (unit + 1 < form.length) return true;
    } else if (cutOff(form, text, at, unit + 1)) return true;
  }
  return false;
}

/** Every form of every secret against one target, as one regular expression and for partial matches. */
export class FormMatcher {
  readonly pattern: RegExp;
  /** The forms by a character they can start with: a position starting with another starts none. */
  private readonly startingWith = new Map<string, Form[]>();
  /** The longest a match can be, in characters. */
  readonly longest: number;

  constructor(secrets: readonly string[], target: Target) {
    // Longest secrets first, so a secret that contains another is masked whole.
    const forms = secrets.flatMap((secret) => secretForms(secret, target));
    for (const form of forms) {
      const first = new Set((form[0] ?? []).flatMap((spelling) => [...(spelling[0] ?? "")]));
      for (const c of first) {
        const list = this.startingWith.get(c) ?? [];
        list.push(form);
        this.startingWith.set(c, list);
      }
    }
    this.longest = Math.max(
      0,
      ...forms.map((form) =>
        form.reduce((sum, unit) => sum + Math.max(...unit.map((s) => s.length)), 0),
      ),
    );
    this.pattern = new RegExp(forms.map(formSource).join("|"), "g");
  }

  /**
   * The first position at or after `from` where a match may begin that the
   * end of `text` cut off; `text.length` if none. Only the last `longest - 1`
   * characters can hold one.
   */
  cutOffStart(text: string, from: number): number {
    for (let at = Math.max(from, text.length - this.longest + 1); at < text.length; at++) {
      const forms = this.startingWith.get(text[at] as string);
      if (forms?.some((form) => cutOff(form, text, at, 0))) return at;
    }
    return text.length;
  }
}

/**
 * A set of secret values, compiled once (per engine) for masking output and
 * checking files. Empty values are ignored; with none, everything passes
 * through untouched at no cost.
 */
export class SecretSet {
  readonly values: readonly string[];
  private textMatcher: FormMatcher | undefined;
  private bytesMatcher: FormMatcher | undefined;

  constructor(values: Iterable<string>) {
    this.values = [...new Set(values)]
      .filter((s) => typeof s === "string" && s.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.values.length === 0;
  }

  /** The matcher for decoded text, made on first use. */
  get text(): FormMatcher | undefined {
    if (this.empty) return undefined;
    this.textMatcher ??= new FormMatcher(this.values, "text");
    return this.textMatcher;
  }

  /** Masks every secret in a whole text (not a piece of a stream). */
  mask(text: string): string {
    const matcher = this.text;
    if (!matcher || text.length === 0) return text;
    return text.replace(matcher.pattern, MASK);
  }

  /**
   * Whether bytes (a file, of any content) hold a secret in any of its forms.
   * Read in slices that overlap by a match's length, so a file is never
   * turned into one string.
   */
  foundIn(bytes: Uint8Array): boolean {
    if (this.empty || bytes.length === 0) return false;
    this.bytesMatcher ??= new FormMatcher(this.values, "bytes");
    const { pattern, longest } = this.bytesMatcher;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const slice = 1 << 20;
    for (let start = 0; start < buffer.length; start += slice) {
      const from = Math.max(0, start - longest + 1);
      const text = buffer.toString("latin1", from, Math.min(buffer.length, start + slice));
      pattern.lastIndex = 0;
      if (pattern.test(text)) return true;
    }
    return false;
  }
}

/**
 * Replaces secret values, raw or encoded (see `secret-forms.ts`), with `***`
 * in text that arrives in pieces. A secret may be split across any number of
 * pieces (down to one character each), so the end of a piece that could be
 * the start of one is held back until the next piece shows whether it is;
 * everything else is released at once, so streamed output is not delayed.
 * `end()` releases what is held.
 */
export class SecretMasker {
  private readonly secrets: SecretSet;
  private carry = "";

  constructor(secrets: SecretSet | Iterable<string>) {
    this.secrets = secrets instanceof SecretSet ? secrets : new SecretSet(secrets);
  }

  /** Masks a piece; returns what is safe to show now. */
  push(piece: string): string {
    const matcher = this.secrets.text;
    if (!matcher) return piece;
    const text = this.carry + piece;
    const { pattern } = matcher;
    let out = "";
    let position = 0;
    // From here on a match may still be arriving: matches there wait for the next piece.
    let hold = matcher.cutOffStart(text, 0);
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match && match.index < hold; match = pattern.exec(text)) {
      out += text.slice(position, match.index) + MASK;
      position = match.index + match[0].length;
      if (position > hold) hold = matcher.cutOffStart(text, position);
    }
    const cut = Math.max(position, hold);
    this.carry = text.slice(cut);
    return out + text.slice(position, cut);
  }

  /** How many characters are held back (the end of the text so far that may start a secret). */
  get held(): number {
    return this.carry.length;
  }

  /** Masks and returns whatever was held back. */
  end(): string {
    const rest = this.carry;
    this.carry = "";
    return this.secrets.mask(rest);
  }
}
