import { type Form, type Spelling, secretForms, type Target } from "./secret-forms.js";

const MASK = "***";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function spellingSource(spelling: Spelling): string {
  // Every set as a class, one character's too: "[a]" matches what "a" does.
  return spelling.map((set) => `[${escapeRegExp(set)}]`).join("");
}

function formSource(form: Form): string {
  return form
    .map((unit) =>
      // Stryker disable next-line ConditionalExpression: a group of one alternative matches what the alternative does.
      unit.length === 1
        ? spellingSource(unit[0] ?? [])
        : `(?:${unit.map(spellingSource).join("|")})`,
    )
    .join("");
}

/** What `walk` looks for: where a whole match ends, or whether the text's end cut one off. */
type Goal = "end" | "cut";

/**
 * Walks `form` over `text` from `start`, trying each unit's spellings in
 * order and backtracking when one leads nowhere (without recursion: a form
 * can be thousands of units long). For `end`, the end of the first whole
 * match, else -1; for `cut`, `start` when the text ends inside a possible
 * match, else -1.
 */
function walk(form: Form, text: string, start: number, goal: Goal): number {
  const positions = [start];
  const next = [0];
  while (positions.length > 0) {
    const unit = positions.length - 1;
    const position = positions[unit] as number;
    const spellings = form[unit];
    if (!spellings) {
      if (goal === "end") return position;
      positions.pop();
      next.pop();
      continue;
    }
    const choice = next[unit] as number;
    const spelling = spellings[choice];
    if (!spelling) {
      positions.pop();
      next.pop();
      continue;
    }
    next[unit] = choice + 1;
    let at = position;
    let state: "fits" | "mismatch" | "ran out" = "fits";
    for (const set of spelling) {
      if (at === text.length) {
        state = "ran out";
        break;
      }
      if (!set.includes(text[at] as string)) {
        // Stryker disable next-line StringLiteral: any state but "fits" and "ran out" is a mismatch.
        state = "mismatch";
        break;
      }
      at++;
    }
    // The text ends inside the form: a match may still be arriving. (Said
    // early: without it, the next unit runs out at the same place.)
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: see above.
    if (state === "fits" && at === text.length && unit + 1 < form.length) state = "ran out";
    if (state === "ran out") {
      if (goal === "cut") return start;
    } else if (state === "fits") {
      positions.push(at);
      next.push(0);
    }
  }
  return -1;
}

/** Units of a form the regular expression looks for; the rest is checked by `walk`. */
const PREFIX_UNITS = 12;

/**
 * Every form of every secret against one target: a regular expression that
 * finds where a match may begin (each form's first units: the expression
 * stays small however long the secrets), and the forms by first character
 * for checking whole matches and matches the end of a text cut off.
 */
class FormMatcher {
  /** Finds candidates; `g`, used from one synchronous call at a time. */
  private readonly candidates: RegExp;
  /** The forms by a character they can start with, in priority order: a position starting with another starts none. */
  private readonly startingWith = new Map<string, Form[]>();
  /** The longest a match can be, in characters. */
  readonly longest: number;

  constructor(secrets: readonly string[], target: Target) {
    // In the secrets' order (longest first): the first form that matches at a position wins.
    const forms = secrets.flatMap((secret) => secretForms(secret, target));
    for (const form of forms) {
      const first = new Set((form[0] ?? []).flatMap((spelling) => [...(spelling[0] ?? "")]));
      for (const c of first) {
        // Stryker disable next-line ArrayDeclaration: a stray string entry fails to walk at its first character.
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
    // Stryker disable next-line MethodExpression: the prefix keeps the expression small; whole forms find the same starts.
    const prefixes = new Set(forms.map((form) => formSource(form.slice(0, PREFIX_UNITS))));
    this.candidates = new RegExp([...prefixes].join("|"), "g");
  }

  /** The first whole match at or after `from`: where it starts and ends. */
  find(text: string, from: number): { index: number; end: number } | undefined {
    const { candidates } = this;
    candidates.lastIndex = from;
    for (let found = candidates.exec(text); found; found = candidates.exec(text)) {
      const index = found.index;
      for (const form of this.startingWith.get(text[index] as string) ?? []) {
        const end = walk(form, text, index, "end");
        // Stryker disable next-line EqualityOperator: a match ends after its first character, never at 0.
        if (end >= 0) return { index, end };
      }
      candidates.lastIndex = index + 1;
    }
    return undefined;
  }

  /** Every whole match replaced by the mask. */
  replace(text: string): string {
    let out = "";
    let position = 0;
    for (let match = this.find(text, 0); match; match = this.find(text, match.end)) {
      out += text.slice(position, match.index) + MASK;
      position = match.end;
    }
    // Stryker disable next-line ConditionalExpression: with no match, out is empty and the slice is the text.
    return position === 0 ? text : out + text.slice(position);
  }

  /**
   * The first position at or after `from` where a match may begin that the
   * end of `text` cut off; `text.length` if none. Only the last `longest - 1`
   * characters can hold one.
   */
  cutOffStart(text: string, from: number): number {
    // Stryker disable next-line MethodExpression,ArithmeticOperator,EqualityOperator: a match starting earlier than the last longest - 1 characters, or at the end, cannot be cut off.
    for (let at = Math.max(from, text.length - this.longest + 1); at < text.length; at++) {
      const forms = this.startingWith.get(text[at] as string);
      if (forms?.some((form) => walk(form, text, at, "cut") >= 0)) return at;
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
  /** Longest first, so a secret that contains another is masked whole. */
  private readonly values: readonly string[];
  private textMatcher: FormMatcher | undefined;
  private bytesMatcher: FormMatcher | undefined;

  constructor(values: Iterable<string>) {
    this.values = [...new Set(values)]
      .filter((s) => typeof s === "string" && s.length > 0)
      .sort((a, b) => b.length - a.length);
  }

  /** True when there is no secret to mask. */
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
    if (!matcher) return text;
    return matcher.replace(text);
  }

  /**
   * Whether bytes (a file, of any content) hold a secret in any of its forms.
   * Read in slices that overlap by a match's length, so a file is never
   * turned into one string.
   */
  foundIn(bytes: Uint8Array): boolean {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a shortcut; no secret or no byte finds nothing below either.
    if (this.empty || bytes.length === 0) return false;
    // Stryker disable next-line StringLiteral: any target but "text" is read as bytes.
    this.bytesMatcher ??= new FormMatcher(this.values, "bytes");
    const matcher = this.bytesMatcher;
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const slice = 1 << 20;
    // Stryker disable next-line EqualityOperator: a slice from the end holds no byte the one before did not.
    for (let start = 0; start < buffer.length; start += slice) {
      // Stryker disable next-line MethodExpression,ArithmeticOperator: slices bound memory; a larger overlap finds the same.
      const from = Math.max(0, start - matcher.longest + 1);
      // Stryker disable next-line MethodExpression: slices bound memory; reading on to the end finds the same.
      const text = buffer.toString("latin1", from, Math.min(buffer.length, start + slice));
      if (matcher.find(text, 0)) return true;
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
    let out = "";
    let position = 0;
    // From here on a match may still be arriving: matches there wait for the next piece.
    let hold = matcher.cutOffStart(text, 0);
    for (
      let match = matcher.find(text, 0);
      match && match.index < hold;
      match = matcher.find(text, match.end)
    ) {
      out += text.slice(position, match.index) + MASK;
      position = match.end;
      // Stryker disable next-line ConditionalExpression,EqualityOperator: only a match ending past hold can move it; searching from hold or before finds hold again, so the test only saves work.
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
