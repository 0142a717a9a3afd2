/** The human rendering of a status report: a table per tokens and environments, colours optional. */
import Table from "cli-table3";
import type { Finding, Severity, StatusReport, TokenStatus } from "./status.ts";

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
  return names.length <= 3 ? names.join("\n") : `${names.slice(0, 2).join("\n")}\n+${names.length - 2} more`;
}

/** The report as text: a header line, the tokens table, the environments table, a summary line. */
export function renderStatus(report: StatusReport, paint: Paint = plainPaint): string {
  const out: string[] = [];
  if (report.limitation) out.push(paint.yellow(`note: ${report.limitation}`));
  const tokens = new Table({
    head: ["token", "env", "expires", "time left", "last used", "access", "findings"].map((h) =>
      paint.bold(h),
    ),
    style: { head: [], border: [] },
  });
  for (const t of report.tokens) {
    const severity = worst(t.findings);
    const env = t.environment
      ? `${t.environment}${t.deployedIn.includes(t.environment) ? "\n(deployed)" : ""}`
      : t.deployedIn.length > 0
        ? `—\n(deployed in ${t.deployedIn.join(", ")})`
        : "—";
    tokens.push([
      `${t.name}\n${paint.dim(t.id)}`,
      env,
      day(t.expiresAt),
      `${paintSeverity(paint, severity, timeBar(t.msLeft, t.lifetimeMs))}\n${left(t)}`,
      t.lastUsed
        ? `${day(t.lastUsed.at)}${t.lastUsed.userAgent ? `\n${paint.dim(t.lastUsed.userAgent)}` : ""}`
        : "—",
      `${[t.role, t.scopes.join(" ")].filter((s) => s !== "").join(", ")}\n${servicesText(t)}`,
      t.findings.length === 0
        ? paint.green("ok")
        : t.findings.map((f) => paintSeverity(paint, f.severity, f.message)).join("\n"),
    ]);
  }
  out.push(report.tokens.length > 0 ? tokens.toString() : paint.dim("no automation tokens"));

  if (report.environments.length > 0) {
    const envs = new Table({
      head: ["environment", "deployed token", "findings"].map((h) => paint.bold(h)),
      style: { head: [], border: [] },
    });
    for (const e of report.environments) {
      const d = e.deployed;
      const deployed =
        d.status === "valid"
          ? `${d.tokenId}${d.managed ? "" : " (not managed)"}${d.expiresAt ? `\nexpires ${day(d.expiresAt)}` : ""}`
          : `${d.status}${d.tokenId ? ` (${d.tokenId})` : ""}`;
      envs.push([
        e.name,
        deployed,
        e.findings.length === 0
          ? paint.green("ok")
          : e.findings.map((f) => paintSeverity(paint, f.severity, f.message)).join("\n"),
      ]);
    }
    out.push(envs.toString());
  }
  const { critical, warning, info } = report.summary;
  const counts = `${report.tokens.length} token(s), ${report.environments.length} environment(s): ${critical} critical, ${warning} warning(s), ${info} note(s)`;
  out.push(critical > 0 ? paint.red(counts) : warning > 0 ? paint.yellow(counts) : paint.green(counts));
  return out.join("\n");
}
