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

function paintSeverity(paint: Paint, severity: Severity | undefined, text: string): string {
  if (severity === "critical") return paint.red(text);
  if (severity === "warning") return paint.yellow(text);
  if (severity === "info") return paint.dim(text);
  return paint.green(text);
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

/** One cell: its text, measured and cut as plain text, and the paint applied after. */
interface Cell {
  readonly text: string;
  readonly paint?: (s: string) => string;
}

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
 * Rows as aligned columns, one line per row. Widths come from one pass over the rows; with a
 * `width`, flexible columns give up space, the last first, down to their minimum.
 */
function columns(
  cols: readonly Column[],
  rows: readonly (readonly Cell[])[],
  paint: Paint,
  width?: number,
): string {
  // Names, findings and user agents come from the account: control characters are made visible
  // (and measured as shown) so a name cannot move the cursor or forge a row.
  rows = rows.map((row) => row.map((cell) => ({ ...cell, text: escapeControl(cell.text) })));
  const widths = cols.map((c) => c.head.length);
  for (const row of rows) {
    for (let i = 0; i < cols.length; i++) {
      const len = row[i]?.text.length ?? 0;
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
  const line = (cells: readonly Cell[]): string => {
    const parts: string[] = [];
    for (let i = 0; i < cols.length; i++) {
      if (!shown[i]) continue;
      const cell = cells[i] ?? { text: "" };
      const w = widths[i] ?? 0;
      const text = cols[i]?.middle ? elideMiddle(cell.text, w) : cut(cell.text, w);
      // The last column is not padded: no trailing blanks.
      const padded = i === cols.length - 1 ? text : text.padEnd(w);
      parts.push(cell.paint ? cell.paint(padded) : padded);
    }
    return parts.join(GAP).trimEnd();
  };
  const lines = [line(cols.map((c) => ({ text: c.head, paint: paint.bold })))];
  for (const row of rows) lines.push(line(row));
  return lines.join("\n");
}

function findingsCell(paint: Paint, findings: readonly Finding[], all: boolean): Cell {
  if (findings.length === 0) return { text: "ok", paint: paint.green };
  const severity = worst(findings);
  const text = all
    ? findings.map((f) => f.message).join("; ")
    : `${findings[0]?.message ?? ""}${findings.length > 1 ? ` (+${findings.length - 1} more)` : ""}`;
  return { text, paint: (s) => paintSeverity(paint, severity, s) };
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
  const out: string[] = [];
  const wide = options.wide === true;
  const width = wide ? undefined : options.width;
  if (report.limitation) out.push(paint.yellow(`note: ${escapeControl(report.limitation)}`));
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
  const tokenRows = (tokens: readonly TokenStatus[]): Cell[][] =>
    tokens.map((t) => {
      const severity = worst(t.findings);
      const row: Cell[] = [
        { text: t.name },
        { text: t.id, paint: paint.dim },
        { text: envText(t) },
        { text: day(t.expiresAt) },
        { text: timeBar(t.msLeft, t.lifetimeMs), paint: (s) => paintSeverity(paint, severity, s) },
        { text: left(t), paint: (s) => paintSeverity(paint, severity, s) },
        { text: t.lastUsed ? day(t.lastUsed.at) : "—" },
      ];
      if (wide) {
        row.push(
          { text: t.lastUsed?.userAgent ?? "—", paint: paint.dim },
          { text: accessText(t) },
          { text: servicesText(t) },
        );
      }
      row.push(findingsCell(paint, t.findings, wide || width === undefined));
      return row;
    });
  // Tokens no environment names are listed apart, after the managed ones.
  const managed = report.tokens.filter((t) => t.managed !== false);
  const unmanaged = report.tokens.filter((t) => t.managed === false);
  if (report.tokens.length === 0) out.push(paint.dim("no automation tokens"));
  if (managed.length > 0) out.push(columns(cols, tokenRows(managed), paint, width));
  if (unmanaged.length > 0) {
    if (managed.length > 0) out.push("");
    out.push(paint.bold(`tokens no environment manages (${unmanaged.length}):`));
    out.push(columns(cols, tokenRows(unmanaged), paint, width));
  }
  if (wide) {
    // Each finding that needs action, with its fix.
    const fixes = report.tokens.flatMap((t) =>
      t.findings
        .filter((f) => f.fix !== undefined && f.severity !== "info")
        .map((f) => `  ${t.name} (${t.id}): ${f.message}; fix: ${f.fix ?? ""}`),
    );
    if (fixes.length > 0) out.push("", paint.bold("fixes:"), ...fixes.map((f) => escapeControl(f)));
  }

  if (report.environments.length > 0) {
    // One verdict per environment, the one `check` and `serve` give (verdict.ts).
    const verdicts = environmentVerdicts(report);
    const envRows = report.environments.map((e, i): Cell[] => {
      const d = e.deployed;
      const deployed =
        d.status === "valid"
          ? `${d.tokenId}${d.managed ? "" : " (not managed)"}${d.expiresAt ? `, expires ${day(d.expiresAt)}` : ""}`
          : `${d.status}${d.tokenId ? ` (${d.tokenId})` : ""}`;
      const v = verdicts[i];
      const paintV = (s: string) => paintSeverity(paint, v?.severity, s);
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
    out.push("");
    out.push(
      columns(
        [
          { head: "environment" },
          { head: "verdict" },
          { head: "deployed token", flexible: true, min: 22 },
          { head: "why", flexible: true, min: 12 },
        ],
        envRows,
        paint,
        width,
      ),
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
  out.push(...lines.map((l) => tone(l)));
  return out.join("\n");
}
