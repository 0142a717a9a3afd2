/**
 * A table that fits a terminal: columns separated by two spaces, no box (a box costs three columns
 * a cell). Without a width (a file, a pipe) every cell is whole. With one, columns give way by
 * priority: droppable ones are left out, lowest `drop` first, while even the narrowest layout does
 * not fit; then elidable ones are cut (in the middle, keeping both ends of a name readable), down to
 * their minimum. Columns with neither never lose a character: the environment and token ids.
 */
import { escapeControl } from "../../util/escape.ts";
import { elideMiddle, visibleWidth } from "../../util/fit.ts";

/** A column of a {@link fitTable}. */
export interface TableColumn {
  readonly head: string;
  /** Left out when the table does not fit even cut; lower numbers go first. */
  readonly drop?: number;
  /** May be cut in the middle down to `min` columns (default 8). */
  readonly elide?: boolean;
  readonly min?: number;
}

/** A cell: plain text (measured and cut), painted after. */
export interface TableCell {
  readonly text: string;
  readonly paint?: ((s: string) => string) | undefined;
}

const GAP = "  ";

/** The rows as lines: a bold heading (painted by `head`), then one line a row. */
export function fitTable(
  cols: readonly TableColumn[],
  rows: readonly (readonly (TableCell | string)[])[],
  options: { readonly width?: number | undefined; readonly head?: (s: string) => string } = {},
): string[] {
  const cells = rows.map((row) =>
    cols.map((_, i) => {
      const cell = row[i] ?? "";
      const c = typeof cell === "string" ? { text: cell } : cell;
      // Text from the account or the config: control characters made visible, measured as shown.
      return { ...c, text: escapeControl(c.text) };
    }),
  );
  const widths = cols.map((c, i) =>
    Math.max(visibleWidth(c.head), ...cells.map((row) => visibleWidth(row[i]?.text ?? ""))),
  );
  const shown = cols.map(() => true);
  const { width } = options;
  if (width !== undefined) {
    const floor = (i: number) =>
      cols[i]?.elide
        ? Math.min(widths[i] ?? 0, Math.max(cols[i]?.min ?? 8, visibleWidth(cols[i]?.head ?? "")))
        : (widths[i] ?? 0);
    const total = (w: (i: number) => number) =>
      cols.reduce((sum, _c, i) => sum + (shown[i] ? w(i) + GAP.length : 0), 0) - GAP.length;
    const droppable = cols
      .map((c, i) => ({ i, drop: c.drop }))
      .filter((c): c is { i: number; drop: number } => c.drop !== undefined)
      .sort((a, b) => a.drop - b.drop);
    for (const { i } of droppable) {
      if (total(floor) <= width) break;
      shown[i] = false;
    }
    let excess = total((i) => widths[i] ?? 0) - width;
    for (let i = cols.length - 1; i >= 0 && excess > 0; i--) {
      if (!shown[i] || !cols[i]?.elide) continue;
      const give = Math.min(excess, Math.max(0, (widths[i] ?? 0) - floor(i)));
      widths[i] = (widths[i] ?? 0) - give;
      excess -= give;
    }
  }
  const last = shown.lastIndexOf(true);
  const line = (row: readonly TableCell[]) =>
    row
      .map((cell, i) => {
        if (!shown[i]) return undefined;
        const w = widths[i] ?? 0;
        const text = elideMiddle(cell.text, w);
        // The last column is not padded: no trailing blanks.
        const padded = i === last ? text : text + " ".repeat(Math.max(0, w - visibleWidth(text)));
        return cell.paint ? cell.paint(padded) : padded;
      })
      .filter((s): s is string => s !== undefined)
      .join(GAP)
      .trimEnd();
  return [
    line(cols.map((c) => ({ text: c.head, ...(options.head ? { paint: options.head } : {}) }))),
    ...cells.map(line),
  ];
}
