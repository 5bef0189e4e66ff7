export const MASK = "***";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Replaces secret values with `***` in text that arrives in pieces. A secret
 * may be split across any number of pieces (down to one byte each), so the
 * end of a piece that could be the start of a secret is held back until the
 * next piece shows whether it is; everything else is released at once, so
 * streamed output is not delayed. `end()` releases what is held.
 */
export class SecretMasker {
  private readonly secrets: string[];
  private readonly pattern: RegExp | undefined;
  private carry = "";

  constructor(secrets: Iterable<string>) {
    // Longest first, so a secret that contains another is masked whole.
    this.secrets = [...new Set(secrets)]
      .filter((s) => s.length > 0)
      .sort((a, b) => b.length - a.length);
    this.pattern = this.secrets.length
      ? new RegExp(this.secrets.map(escapeRegExp).join("|"), "g")
      : undefined;
  }

  /** Masks a piece; returns what is safe to show now. */
  push(piece: string): string {
    if (!this.pattern) return piece;
    const text = this.carry + piece;
    let out = "";
    let position = 0;
    this.pattern.lastIndex = 0;
    for (let match = this.pattern.exec(text); match; match = this.pattern.exec(text)) {
      // A shorter secret matched, but a longer one starting here may still be arriving.
      if (this.startsLongerSecret(text.slice(match.index))) break;
      out += text.slice(position, match.index) + MASK;
      position = match.index + match[0].length;
    }
    const rest = text.slice(position);
    const held = this.heldLength(rest);
    this.carry = rest.slice(rest.length - held);
    return out + rest.slice(0, rest.length - held);
  }

  /** How many characters are held back (the end of the text so far that may start a secret). */
  get held(): number {
    return this.carry.length;
  }

  /** Masks and returns whatever was held back. */
  end(): string {
    const rest = this.carry;
    this.carry = "";
    return this.pattern ? rest.replace(this.pattern, MASK) : rest;
  }

  private startsLongerSecret(tail: string): boolean {
    return this.secrets.some((s) => s.length > tail.length && s.startsWith(tail));
  }

  /** Length of the longest end of `text` that is the beginning of some secret. */
  private heldLength(text: string): number {
    const longest = Math.min(text.length, (this.secrets[0]?.length ?? 1) - 1);
    for (let k = longest; k > 0; k--) {
      const tail = text.slice(text.length - k);
      if (this.secrets.some((s) => s.startsWith(tail))) return k;
    }
    return 0;
  }
}
