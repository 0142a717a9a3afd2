import type { ServerResponse } from "node:http";

/**
 * Requests a fake holds until the test releases them: the fakes' way of letting a test act while a
 * side effect has reached the service (for the crash suites).
 */
export interface Holds {
  /** Waits for {@link Holds.release} (true), or for the caller's connection to close first (false). */
  hold(res: ServerResponse): Promise<boolean>;
  /** Lets every held request go on; later holds wait for the next release. */
  release(): void;
  /** How many requests are held now. */
  readonly holding: number;
}

/** One set of held requests. */
export function createHolds(): Holds {
  let open = (): void => undefined;
  let released = new Promise<void>((resolve) => (open = resolve));
  let holding = 0;
  return {
    get holding() {
      return holding;
    },
    async hold(res) {
      holding += 1;
      try {
        if (res.destroyed) return false;
        return await new Promise<boolean>((resolve) => {
          const closed = (): void => resolve(false);
          res.once("close", closed);
          void released.then(() => {
            res.off("close", closed);
            resolve(true);
          });
        });
      } finally {
        holding -= 1;
      }
    },
    release() {
      open();
      released = new Promise<void>((resolve) => (open = resolve));
    },
  };
}
