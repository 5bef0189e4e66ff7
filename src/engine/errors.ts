/** Bad option value; the message names the option and the problem. */
export class InvalidOptionError extends Error {
  override readonly name: string = "InvalidOptionError";
}
