import { exitWhenFlushed } from "./exit.js";

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once (for long-running commands). */
export function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const first = () => {
      process.off("SIGINT", first);
      process.off("SIGTERM", first);
      const again = () => void exitWhenFlushed(130);
      process.once("SIGINT", again);
      process.once("SIGTERM", again);
      resolve();
    };
    process.on("SIGINT", first);
    process.on("SIGTERM", first);
  });
}
