/**
 * Checks and prose for the fixed lists of names isol8 keeps once (runtimes,
 * network, engine, seccomp and pool modes), so that a check and the message
 * that names the choices can never disagree with the list.
 */

/** Whether `value` is one of `list`, as its type. */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return (list as readonly unknown[]).includes(value);
}

/** `a, b or c`: a list of names as help texts and descriptions write it. */
export function orList(list: readonly string[]): string {
  if (list.length <= 1) return list.join("");
  return `${list.slice(0, -1).join(", ")} or ${list.at(-1)}`;
}
