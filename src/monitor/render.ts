/**
 * The human rendering of a status report: a table of tokens and one of environments, colours
 * optional. Drawn by a small column renderer that is linear in the rows (a general table library
 * scans earlier rows for every cell, which took seconds at a few thousand tokens), painting each
 * cell after measuring it, so widths never have to strip colour codes.
 */
import { escapeControl } from "../util/escape.ts";
import { elideMiddle } from "../util/fit.ts";
import type { Finding, Severity, StatusReport, TokenStatus } from "./status.ts";
import { environmentVerdicts } from "./verdict.ts";

/** Colour functions; identity functions when the output is not a terminal. */
export interface Paint {
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly green: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
}

/** No colours at all. */
export const plainPaint: Paint = {
  red: (s) => s,
  yellow: (s) => s,
  green: (s) => s,
  dim: (s) => s,
  bold: (s) => s,
};

const BAR_CELLS = 10;

/**
 * A bar of the time left over `lifetimeMs` (`█████░░░░░`): full for a new token, empty when it
 * expires. Undefined `msLeft` (never expires) gives a full bar of a different character.
 */
export function timeBar(msLeft: number | undefined, lifetimeMs: number, cells = BAR_CELLS): string {
  if (msLeft === undefined) return "∞".padEnd(cells, " ");
  const fraction = Math.min(1, Math.max(0, msLeft / lifetimeMs));
  // Round up so a token with any time left shows at least one cell.
  const full = msLeft > 0 ? Math.max(1, Math.ceil(fraction * cells)) : 0;
  return "█".repeat(full) + "░".repeat(cells - full);
}

function worst(findings: readonly Finding[]): Severity | undefined {
  if (findings.some((f) => f.severity === "critical")) return "critical";
  if (findings.some((f) => f.severity === "warning")) return "warning";
  return findings.length > 0 ? "info" : undefined;
}

function day(iso: string | undefined): string {
  return iso ? iso.slice(0, 10) : "—";
}

function left(t: TokenStatus): string {
  if (t.msLeft === undefined) return "never";
  if (t.msLeft <= 0) return `expired ${Math.ceil(-t.msLeft / 86_400_000)}d ago`;
  return t.daysLeft === 0 ? "< 1 day" : `${t.daysLeft} days`;
}

function servicesText(t: TokenStatus): string {
  if (t.allServices) return "all services";
  const names = t.services.map((s) => s.name ?? s.id);
  return names.length <= 3 ? names.join(", ") : `${names.slice(0, 2).join(", ")} +${names.length - 2} more`;
}

/** What a cell is painted with after it is cut and padded; undefined: left as it is. */
type Painter = ((s: string) => string) | undefined;

/** A column: its heading, and whether it may be cut (with …) to fit the width. */
interface Column {
  readonly head: string;
  readonly flexible?: boolean;
  /** Narrowest a flexible column is cut to. */
  readonly min?: number;
  /** Left out when the rest does not fit the width even cut; lower numbers go first. */
  readonly drop?: number;
  /** Cut in the middle (both ends of a long name stay readable) rather than at the end. */
  readonly middle?: boolean;
}

/**
 * The rows of a table: every cell's text, row after row (`texts[row * columns + column]`), and how
 * each cell is painted. Flat, so a table of thousands of tokens is one array of strings rather
 * than an object (and a closure) a cell.
 */
interface Grid {
  readonly rows: number;
  readonly texts: readonly string[];
  readonly paintOf: (row: number, column: number) => Painter;
}

/** Options of {@link renderStatus}. */
export interface RenderOptions {
  /** Every column (access, services, user agent, every finding) instead of the compact view. */
  readonly wide?: boolean;
  /** The terminal's width: cut flexible columns to fit. Absent: nothing is cut (files, pipes). */
  readonly width?: number;
}

const GAP = "  ";

/** Cut `text` to `width` characters, ending in … when cut. */
function cut(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/**
 * Rows as aligned columns, one line per row, each yielded as it is made. Widths come from
 * one pass over the rows; with a `width`, flexible columns give up space, the last first, down to
 * their minimum. The grid's texts must already be escaped (`escapeControl`).
 */
function* columns(
  cols: readonly Column[],
  grid: Grid,
  paint: Paint,
  width: number | undefined,
): Generator<string, void, undefined> {
  const n = cols.length;
  const { rows, texts } = grid;
  const widths = cols.map((c) => c.head.length);
  for (let r = 0, at = 0; r < rows; r++) {
    for (let i = 0; i < n; i++, at++) {
      const len = texts[at]?.length ?? 0;
      if (len > (widths[i] ?? 0)) widths[i] = len;
    }
  }
  const shown = cols.map(() => true);
  if (width !== undefined) {
    const total = () => widths.reduce((sum, w, i) => sum + (shown[i] ? w + GAP.length : 0), 0) - GAP.length;
    const floor = (i: number) =>
      cols[i]?.flexible ? Math.min(widths[i] ?? 0, cols[i]?.min ?? 8) : (widths[i] ?? 0);
    // Leave out droppable columns while even the narrowest cut would not fit.
    const droppable = cols
      .map((c, i) => ({ i, drop: c.drop }))
      .filter((c): c is { i: number; drop: number } => c.drop !== undefined)
      .sort((a, b) => a.drop - b.drop);
    for (const { i } of droppable) {
      const narrowest =
        widths.reduce((sum, _w, j) => sum + (shown[j] ? floor(j) + GAP.length : 0), 0) - GAP.length;
      if (narrowest <= width) break;
      shown[i] = false;
    }
    let excess = total() - width;
    // Names cut in the middle give way first, then the other flexible columns from the last.
    const order = [
      ...cols.map((c, i) => (c.middle ? i : -1)).filter((i) => i >= 0),
      ...cols.map((_c, i) => cols.length - 1 - i).filter((i) => !cols[i]?.middle),
    ];
    for (const i of order) {
      if (excess <= 0) break;
      const col = cols[i];
      const w = widths[i] ?? 0;
      if (!col?.flexible || !shown[i]) continue;
      const give = Math.min(excess, Math.max(0, w - (col.min ?? 8)));
      widths[i] = w - give;
      excess -= give;
    }
  }
  // One line: each shown cell cut (or elided) to its width, padded but the last, then painted.
  const line = (row: number, text: (i: number) => string, painter: (row: number, i: number) => Painter) => {
    let out = "";
    let first = true;
    for (let i = 0; i < n; i++) {
      if (!shown[i]) continue;
      const w = widths[i] ?? 0;
      const t = text(i);
      const fitted = cols[i]?.middle ? elideMiddle(t, w) : cut(t, w);
      // The last column is not padded: no trailing blanks.
      const padded = i === n - 1 ? fitted : fitted.padEnd(w);
      const p = painter(row, i);
      const painted = p ? p(padded) : padded;
      out = first ? painted : out + GAP + painted;
      first = false;
    }
    return out.trimEnd();
  };
  yield line(
    -1,
    (i) => cols[i]?.head ?? "",
    () => paint.bold,
  );
  let base = 0;
  const cell = (i: number) => texts[base + i] ?? "";
  for (let r = 0; r < rows; r++, base += n) yield line(r, cell, grid.paintOf);
}

/** Rows given as cells of text and paint (the few environments): the texts escaped here. */
function gridOf(rows: readonly (readonly { readonly text: string; readonly paint?: Painter }[])[]): Grid {
  const n = rows[0]?.length ?? 0;
  const texts: string[] = [];
  const paints: Painter[] = [];
  for (const row of rows) {
    for (let i = 0; i < n; i++) {
      texts.push(escapeControl(row[i]?.text ?? ""));
      paints.push(row[i]?.paint);
    }
  }
  return { rows: rows.length, texts, paintOf: (r, i) => paints[r * n + i] };
}

/** The findings cell's text: every message, or the first and how many more. */
function findingsText(findings: readonly Finding[], all: boolean): string {
  if (findings.length === 0) return "ok";
  return all
    ? findings.map((f) => f.message).join("; ")
    : `${findings[0]?.message ?? ""}${findings.length > 1 ? ` (+${findings.length - 1} more)` : ""}`;
}

/** The paint of a severity: red, yellow, dim; green for none. */
function severityPainter(paint: Paint, severity: Severity | undefined): (s: string) => string {
  if (severity === "critical") return paint.red;
  if (severity === "warning") return paint.yellow;
  if (severity === "info") return paint.dim;
  return paint.green;
}

function accessText(t: TokenStatus): string {
  const roles = t.roles && t.roles.length > 0 ? t.roles.join("+") : t.role;
  return [roles, t.scopes.join(" ")].filter((s) => s !== "").join(", ") || "—";
}

function envText(t: TokenStatus): string {
  if (t.environment) return `${t.environment}${t.deployedIn.includes(t.environment) ? " (deployed)" : ""}`;
  return t.deployedIn.length > 0 ? `— (deployed in ${t.deployedIn.join(", ")})` : "—";
}

/**
 * The report as text: a header line, the tokens table, the environments table, a summary line.
 * Compact by default (one line a token); `wide` adds access, services and last user agent and
 * lists every finding; `width` cuts the token name and findings to fit a terminal.
 */
export function renderStatus(
  report: StatusReport,
  paint: Paint = plainPaint,
  options: RenderOptions = {},
): string {
  return [...statusLines(report, paint, options)].join("\n");
}

/**
 * {@link renderStatus} a line at a time: each line (without its line break) is yielded as soon as
 * it is made, so a report of thousands of tokens is written out without its text ever being whole
 * in memory. The lines joined with line breaks are exactly what `renderStatus` returns.
 */
export function* statusLines(
  report: StatusReport,
  paint: Paint = plainPaint,
  options: RenderOptions = {},
): Generator<string, void, undefined> {
  const wide = options.wide === true;
  const width = wide ? undefined : options.width;
  if (report.limitation) yield paint.yellow(`note: ${escapeControl(report.limitation)}`);
  // Token ids are never dropped and environment names never cut: they tell rows apart.
  const envMin = Math.max(3, ...report.environments.map((e) => e.name.length));
  const cols: Column[] = [
    { head: "token", flexible: true, min: 14, middle: true },
    { head: "id" },
    { head: "env", flexible: true, min: envMin + 1 },
    { head: "expires", drop: 3 },
    { head: "", drop: 0 },
    { head: "time left" },
    { head: "last used", drop: 1 },
    ...(wide ? [{ head: "user agent" }, { head: "access" }, { head: "services" }] : []),
    { head: "findings", flexible: true, min: 10 },
  ];
  const n = cols.length;
  const allFindings = wide || width === undefined;
  // How each column is painted: the id and user agent dim; the bar, the time left and the findings
  // by the token's worst finding; the rest not at all.
  const painted: ("dim" | "severity" | undefined)[] = [
    undefined,
    "dim",
    undefined,
    undefined,
    "severity",
    "severity",
    undefined,
  ];
  if (wide) painted.push("dim", undefined, undefined);
  painted.push("severity");
  const tokenGrid = (tokens: readonly TokenStatus[]): Grid => {
    const texts = new Array<string>(tokens.length * n);
    const bySeverity = new Array<(s: string) => string>(tokens.length);
    let at = 0;
    for (const [r, t] of tokens.entries()) {
      bySeverity[r] = severityPainter(paint, worst(t.findings));
      // Names, findings and user agents come from the account: control characters are made visible
      // (and measured as shown) so a name cannot move the cursor or forge a row.
      texts[at++] = escapeControl(t.name);
      texts[at++] = escapeControl(t.id);
      texts[at++] = escapeControl(envText(t));
      texts[at++] = escapeControl(day(t.expiresAt));
      texts[at++] = escapeControl(timeBar(t.msLeft, t.lifetimeMs));
      texts[at++] = escapeControl(left(t));
      texts[at++] = escapeControl(t.lastUsed ? day(t.lastUsed.at) : "—");
      if (wide) {
        texts[at++] = escapeControl(t.lastUsed?.userAgent ?? "—");
        texts[at++] = escapeControl(accessText(t));
        texts[at++] = escapeControl(servicesText(t));
      }
      texts[at++] = escapeControl(findingsText(t.findings, allFindings));
    }
    return {
      rows: tokens.length,
      texts,
      paintOf: (r, i) => {
        const how = painted[i];
        return how === "severity" ? bySeverity[r] : how === "dim" ? paint.dim : undefined;
      },
    };
  };
  // Tokens no environment names are listed apart, after the managed ones.
  const managed = report.tokens.filter((t) => t.managed !== false);
  const unmanaged = report.tokens.filter((t) => t.managed === false);
  if (report.tokens.length === 0) yield paint.dim("no automation tokens");
  if (managed.length > 0) yield* columns(cols, tokenGrid(managed), paint, width);
  if (unmanaged.length > 0) {
    if (managed.length > 0) yield "";
    yield paint.bold(`tokens no environment manages (${unmanaged.length}):`);
    yield* columns(cols, tokenGrid(unmanaged), paint, width);
  }
  if (wide) {
    // Each finding that needs action, with its fix.
    let first = true;
    for (const t of report.tokens) {
      for (const f of t.findings) {
        if (f.fix === undefined || f.severity === "info") continue;
        if (first) {
          yield "";
          yield paint.bold("fixes:");
          first = false;
        }
        yield escapeControl(`  ${t.name} (${t.id}): ${f.message}; fix: ${f.fix}`);
      }
    }
  }

  if (report.environments.length > 0) {
    // One verdict per environment, the one `check` and `serve` give (verdict.ts).
    const verdicts = environmentVerdicts(report);
    const envRows = report.environments.map((e, i) => {
      const d = e.deployed;
      const deployed =
        d.status === "valid"
          ? `${d.tokenId}${d.managed ? "" : " (not managed)"}${d.expiresAt ? `, expires ${day(d.expiresAt)}` : ""}`
          : `${d.status}${d.tokenId ? ` (${d.tokenId})` : ""}`;
      const v = verdicts[i];
      const paintV = severityPainter(paint, v?.severity);
      const other = e.findings.filter((f) => v?.state !== "attention" && f.code !== "unfinished-run");
      const why = [v && v.state !== "ok" ? v.message : "", ...other.map((f) => f.message)]
        .filter((t) => t !== "")
        .join("; ");
      return [
        { text: e.name },
        { text: v?.state ?? "ok", paint: paintV },
        { text: deployed },
        { text: why || "—", paint: why ? paintV : paint.dim },
      ];
    });
    yield "";
    yield* columns(
      [
        { head: "environment" },
        { head: "verdict" },
        { head: "deployed token", flexible: true, min: 22 },
        { head: "why", flexible: true, min: 12 },
      ],
      gridOf(envRows),
      paint,
      width,
    );
  }
  const { critical, warning, info } = report.summary;
  const hint = !wide && critical + warning > 0 ? "(--wide shows each fix)" : "";
  const summary = `${report.tokens.length} token(s), ${report.environments.length} environment(s): ${critical} critical, ${warning} warning(s), ${info} note(s)`;
  // On a narrow terminal the hint goes on a line of its own rather than past the edge.
  const lines =
    hint !== "" && width !== undefined && summary.length + 1 + hint.length > width
      ? [summary, hint]
      : [hint === "" ? summary : `${summary} ${hint}`];
  const tone = critical > 0 ? paint.red : warning > 0 ? paint.yellow : paint.green;
  for (const l of lines) yield tone(l);
}
