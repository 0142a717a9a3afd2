/** Waits on conditions, never for a fixed time. */

/**
 * Resolves once the wall clock's second has moved past the one `since` fell in: for APIs whose
 * timestamps have whole seconds (`sinceTime`, `restartedAt`), so a later instant is told apart.
 */
export async function untilNextSecond(since: number = Date.now()): Promise<void> {
  const second = Math.floor(since / 1000);
  while (Math.floor(Date.now() / 1000) <= second) {
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 1));
  }
}

/** A promise the test settles itself: `open()` lets whatever awaits `wait` go on. */
export function gate(): { readonly wait: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}
