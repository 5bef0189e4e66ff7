import { StringDecoder } from "node:string_decoder";
import { SecretMasker, type SecretSet } from "./secret-masker.js";

/**
 * One output stream of a run, from raw bytes to text a caller may see:
 * UTF-8 decoded across chunk boundaries (invalid bytes become U+FFFD), then
 * secret-masked across chunk boundaries.
 */
export class TextStream {
  private readonly decoder = new StringDecoder("utf8");
  private readonly masker: SecretMasker;

  constructor(secrets: SecretSet | Iterable<string>) {
    this.masker = new SecretMasker(secrets);
  }

  push(bytes: Buffer): string {
    return this.masker.push(this.decoder.write(bytes));
  }

  /** Characters pushed but not returned yet (held back as a possible start of a secret). */
  get held(): number {
    return this.masker.held;
  }

  end(): string {
    return this.masker.push(this.decoder.end()) + this.masker.end();
  }
}
