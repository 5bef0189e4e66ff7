import { Isol8Error } from "../errors.js";
/** Bad option value; the message names the option and the problem. */
export class InvalidOptionError extends Isol8Error {
  override readonly name: string = "InvalidOptionError";
  override readonly code: string = "INVALID_OPTION";
}
