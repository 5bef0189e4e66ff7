/**
 * The base of every error isol8 throws on purpose. Catch it to tell isol8's
 * own refusals and failures from anything else; read `code` to tell them
 * apart without depending on class identity or message text.
 */
export class Isol8Error extends Error {
  override readonly name: string = "Isol8Error";
  /** A stable identifier of the kind of error, e.g. `INVALID_OPTION`; never changes between releases. */
  readonly code: string = "ISOL8_ERROR";
}
