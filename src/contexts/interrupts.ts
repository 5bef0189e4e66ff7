/**
 * When an interrupted cell's kernel is killed. A cell past its timeout, or
 * whose caller went away, gets SIGINT; a kernel that has not ended the cell
 * within the grace is killed, and its context restarted. Pure but for the
 * timer it is given (test/unit/contexts-interrupts.test.ts).
 */

/** How long an interrupted cell has to stop before its context is restarted. */
export const INTERRUPT_GRACE_MS = 2_000;

/** Runs `work` after `ms`; returns what cancels it. */
export type Schedule = (work: () => void, ms: number) => () => void;

const timer: Schedule = (work, ms) => {
  const handle = setTimeout(work, ms);
  return () => clearTimeout(handle);
};

/** One cell's grace after an interrupt. */
export class InterruptGrace {
  private cancel: (() => void) | undefined;

  /**
   * @param ended whether the cell has ended (checked when the grace runs out)
   * @param schedule the timer; a test passes its own
   */
  constructor(
    private readonly ended: () => boolean,
    private readonly schedule: Schedule = timer,
    readonly graceMs = INTERRUPT_GRACE_MS,
  ) {}

  /**
   * SIGINT was sent for `why`: unless the cell ends within the grace,
   * `kill` gets the reason the kernel is killed for. Another interrupt
   * starts the grace again, with its own reason.
   */
  interrupted(why: string, kill: (reason: string) => void): void {
    this.cancel?.();
    this.cancel = this.schedule(() => {
      this.cancel = undefined;
      if (!this.ended()) kill(`did not stop within ${this.graceMs} ms of SIGINT (${why})`);
    }, this.graceMs);
  }

  /** The cell has ended: no kill, no timer left. */
  settle(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}
