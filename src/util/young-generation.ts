/**
 * Keeps V8's young generation at the size it has when a one-shot job over a large listing starts
 * (`ftr status`, `ftr check`), for as long as the job runs.
 *
 * Why: reading a large account makes many objects that live across a few pages (each page's
 * parsed body, the items kept from it). V8 then doubles the young generation's two semi-spaces
 * again and again up to their maximum (16 MiB each on 64-bit Node 20): at 10,000 tokens / 50,000
 * services that is about 40 MiB more peak memory, and the fresh pages it touches cost CPU time
 * too. Kept at their starting size (1 MiB each), the same run peaks about 35 MiB lower and takes
 * less CPU, not more (bench/README.md, "Status at scale, round three").
 *
 * `--max-semi-space-size` cannot be changed once V8 has set up its heap; the growth factor is read
 * each time the young generation would grow, so setting it to 1 from inside the process works.
 * A user's own young-generation options (`node --max-semi-space-size=…`, `NODE_OPTIONS`) are left
 * alone.
 */
import { setFlagsFromString } from "node:v8";

/** V8's default `--semi-space-growth-factor` (`node --v8-options`). */
const DEFAULT_GROWTH_FACTOR = 2;

/** The V8 options that size the young generation. */
const YOUNG_GENERATION_OPTION = /--(?:max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;

/** Jobs running now (in-process callers may overlap): the default comes back when the last ends. */
let running = 0;

/** True when the process was started with an option that sizes the young generation. */
export function youngGenerationChosen(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env["NODE_OPTIONS"],
): boolean {
  return (
    execArgv.some((arg) => YOUNG_GENERATION_OPTION.test(arg)) ||
    YOUNG_GENERATION_OPTION.test(nodeOptions ?? "")
  );
}

/**
 * Stop the young generation growing until the returned function is called (once per call; the
 * growth factor is restored when no job is left). Does nothing when the user sized it.
 */
export function keepYoungGenerationSmall(): () => void {
  if (youngGenerationChosen()) return () => {};
  if (running++ === 0) setFlagsFromString("--semi-space-growth-factor=1");
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--running === 0) setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  };
}

/** Run `job` with the young generation kept at its size. */
export async function withSmallYoungGeneration<T>(job: () => Promise<T>): Promise<T> {
  const restore = keepYoungGenerationSmall();
  try {
    return await job();
  } finally {
    restore();
  }
}
