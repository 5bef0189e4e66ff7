/**
 * The base of every error isol8 throws on purpose. Catch it to tell isol8's
 * own refusals and failures from anything else; read `code` to tell them
 * apart without depending on class identity or message text.
 *
 * It sets no `name`: each public class names itself, and the few internal
 * ones that never did still print as `Error: ...`.
 */
export class Isol8Error extends Error {
  /** A stable identifier of the kind of error, e.g. `INVALID_OPTION`; never changes between releases. */
  readonly code: string = "ISOL8_ERROR";
}
