/**
 * The width to fit on a stream, without string-width and wrap-ansi (util/fit.ts): a command whose
 * output goes to a file or a pipe needs no fitting, so it can decide that before loading them.
 */

/** A stream that may be a terminal. */
export interface MaybeTerminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Terminals narrower than this get shorter timestamps. */
export const NARROW_COLUMNS = 100;

/** The width to fit on `stream`: its columns when it is a terminal, else undefined (nothing is cut). */
export function widthOf(stream: MaybeTerminal): number | undefined {
  if (stream.isTTY !== true) return undefined;
  const columns = stream.columns;
  return columns !== undefined && Number.isFinite(columns) && columns > 0 ? columns : undefined;
}
