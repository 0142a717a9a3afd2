import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderStatus, timeBar, type Paint } from "./render.ts";
import type { Finding, StatusReport, TokenStatus } from "./status.ts";

// Every cell and line of the rendering, with a paint that shows which colour each cell got.
const DAY = 86_400_000;
const tag = (t: string) => (s: string) => `<${t}>${s}</${t}>`;
const paint: Paint = { red: tag("r"), yellow: tag("y"), green: tag("g"), dim: tag("d"), bold: tag("b") };
const f = (severity: Finding["severity"], message: string, fix?: string): Finding => ({
  code: "unused",
  severity,
  message,
  ...(fix ? { fix } : {}),
});

/** Partial, a field given as undefined left out (never expires, never used). */
type Loose<T> = { [K in keyof T]?: T[K] | undefined };
const defined = <T>(o: object): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
function token(id: string, over: Loose<TokenStatus> = {}): TokenStatus {
  return defined<TokenStatus>({
    id,
    name: `${id} name`,
    role: "engineer",
    scopes: ["global:read"],
    services: [],
    allServices: false,
    expiresAt: "2027-01-10T00:00:00.000Z",
    msLeft: 40 * DAY,
    daysLeft: 40,
    managed: true,
    deployedIn: [],
    rotateBeforeMs: 30 * DAY,
    lifetimeMs: 100 * DAY,
    findings: [],
    ...over,
  });
}
const envStatus = (
  name: string,
  deployed: StatusReport["environments"][number]["deployed"],
  findings: Finding[] = [],
): StatusReport["environments"][number] => ({
  name,
  tokenName: name,
  rotateBeforeMs: 30 * DAY,
  managedTokenIds: [],
  deployed,
  findings,
});
const report: StatusReport = {
  generatedAt: "2026-12-01T00:00:00.000Z",
  scope: "account",
  limitation: "listing\nrefused",
  tokens: [
    token("EXP", {
      name: "ci\x1b[2J",
      msLeft: -2.5 * DAY,
      daysLeft: -3,
      expiresAt: "2026-11-28T12:00:00.000Z",
      environment: "prod",
      deployedIn: ["prod"],
      lastUsed: { at: "2026-11-20T05:00:00.000Z", userAgent: "curl/8" },
      findings: [
        f("critical", "expired 2 days ago", "ftr rotate --env prod"),
        f("info", "a note", "ignored fix"),
      ],
    }),
    token("SOON", {
      msLeft: 3_600_000,
      daysLeft: 0,
      environment: "stage",
      deployedIn: ["prod"],
      roles: ["engineer", "billing"],
      scopes: [],
      services: [{ id: "s1", name: "www" }, { id: "s2" }, { id: "s3", name: "api" }],
      findings: [f("warning", "due soon", "ftr rotate --env stage"), f("info", "and a note")],
    }),
    token("MID", {
      msLeft: 40 * DAY,
      roles: [],
      role: "",
      scopes: [],
      environment: "prod",
      services: [
        { id: "s1", name: "www" },
        { id: "s2" },
        { id: "s3", name: "api" },
        { id: "s4", name: "cdn" },
      ],
      findings: [f("info", "only a note")],
    }),
    token("NEVER", {
      msLeft: undefined,
      daysLeft: undefined,
      expiresAt: undefined,
      managed: false,
      allServices: true,
      deployedIn: ["stage", "qa"],
    }),
    token("GONE", { msLeft: 0, daysLeft: 0, managed: false, findings: [] }),
  ],
  environments: [
    envStatus("prod", {
      status: "valid",
      tokenId: "EXP",
      tokenName: "p",
      managed: true,
      expiresAt: "2026-11-28T12:00:00.000Z",
    }),
    envStatus("stage", { status: "valid", tokenId: "X", tokenName: "x", managed: false }, [
      { code: "deployed-unmanaged", severity: "warning", message: "not named s" },
    ]),
    envStatus("qa", { status: "dead", reason: "401", tokenId: "D" }, [
      { code: "leftover", severity: "warning", message: "2 leftovers" },
    ]),
    envStatus("dev", { status: "absent" }),
    envStatus("ok", {
      status: "valid",
      tokenId: "OK",
      tokenName: "o",
      managed: true,
      expiresAt: "2027-06-01T00:00:00.000Z",
    }),
  ],
  summary: { critical: 2, warning: 1, info: 3 },
};
/** The first three tokens, one with a long name, no environments. */
const narrow: StatusReport = {
  generatedAt: report.generatedAt,
  scope: "account",
  tokens: report.tokens
    .slice(0, 3)
    .map((t, i) => (i === 1 ? { ...t, name: "a-very-long-token-name-for-the-staging-exporter" } : t)),
  environments: [],
  summary: report.summary,
};

const plain = [
  "<y>note: listing\\nrefused</y>",
  "<b>token    </b>  <b>id  </b>  <b>env            </b>  <b>expires   </b>  <b>          </b>  <b>time left     </b>  <b>last used </b>  <b>findings</b>",
  "ci\\x1b[2J  <d>EXP </d>  prod (deployed)  2026-11-28  <r>░░░░░░░░░░</r>  <r>expired 3d ago</r>  2026-11-20  <r>expired 2 days ago; a note</r>",
  "SOON name  <d>SOON</d>  stage            2027-01-10  <y>█░░░░░░░░░</y>  <y>< 1 day       </y>  —           <y>due soon; and a note</y>",
  "MID name   <d>MID </d>  prod             2027-01-10  <d>████░░░░░░</d>  <d>40 days       </d>  —           <d>only a note</d>",
  "",
  "<b>tokens no environment manages (2):</b>",
  "<b>token     </b>  <b>id   </b>  <b>env                      </b>  <b>expires   </b>  <b>          </b>  <b>time left     </b>  <b>last used</b>  <b>findings</b>",
  "NEVER name  <d>NEVER</d>  — (deployed in stage, qa)  —           <g>∞         </g>  <g>never         </g>  —          <g>ok</g>",
  "GONE name   <d>GONE </d>  —                          2027-01-10  <g>░░░░░░░░░░</g>  <g>expired 0d ago</g>  —          <g>ok</g>",
  "",
  "<b>environment</b>  <b>verdict  </b>  <b>deployed token         </b>  <b>why</b>",
  "prod         <r>expired  </r>  EXP, expires 2026-11-28  <r>the deployed token EXP has expired</r>",
  "stage        <y>attention</y>  X (not managed)          <y>not named s</y>",
  "qa           <r>dead     </r>  dead (D)                 <r>the deployed token is refused by Fastly (401); 2 leftovers</r>",
  "dev          <r>absent   </r>  absent                   <r>the secret store holds no token</r>",
  "ok           <g>ok       </g>  OK, expires 2027-06-01   <d>—</d>",
  "<r>5 token(s), 5 environment(s): 2 critical, 1 warning(s), 3 note(s) (--wide shows each fix)</r>",
];

const wide = [
  "<y>note: listing\\nrefused</y>",
  "<b>token    </b>  <b>id  </b>  <b>env            </b>  <b>expires   </b>  <b>          </b>  <b>time left     </b>  <b>last used </b>  <b>user agent</b>  <b>access               </b>  <b>services       </b>  <b>findings</b>",
  "ci\\x1b[2J  <d>EXP </d>  prod (deployed)  2026-11-28  <r>░░░░░░░░░░</r>  <r>expired 3d ago</r>  2026-11-20  <d>curl/8    </d>  engineer, global:read                   <r>expired 2 days ago; a note</r>",
  "SOON name  <d>SOON</d>  stage            2027-01-10  <y>█░░░░░░░░░</y>  <y>< 1 day       </y>  —           <d>—         </d>  engineer+billing       www, s2, api     <y>due soon; and a note</y>",
  "MID name   <d>MID </d>  prod             2027-01-10  <d>████░░░░░░</d>  <d>40 days       </d>  —           <d>—         </d>  —                      www, s2 +2 more  <d>only a note</d>",
  "",
  "<b>tokens no environment manages (2):</b>",
  "<b>token     </b>  <b>id   </b>  <b>env                      </b>  <b>expires   </b>  <b>          </b>  <b>time left     </b>  <b>last used</b>  <b>user agent</b>  <b>access               </b>  <b>services    </b>  <b>findings</b>",
  "NEVER name  <d>NEVER</d>  — (deployed in stage, qa)  —           <g>∞         </g>  <g>never         </g>  —          <d>—         </d>  engineer, global:read  all services  <g>ok</g>",
  "GONE name   <d>GONE </d>  —                          2027-01-10  <g>░░░░░░░░░░</g>  <g>expired 0d ago</g>  —          <d>—         </d>  engineer, global:read                <g>ok</g>",
  "",
  "<b>fixes:</b>",
  "  ci\\x1b[2J (EXP): expired 2 days ago; fix: ftr rotate --env prod",
  "  SOON name (SOON): due soon; fix: ftr rotate --env stage",
  "",
  "<b>environment</b>  <b>verdict  </b>  <b>deployed token         </b>  <b>why</b>",
  "prod         <r>expired  </r>  EXP, expires 2026-11-28  <r>the deployed token EXP has expired</r>",
  "stage        <y>attention</y>  X (not managed)          <y>not named s</y>",
  "qa           <r>dead     </r>  dead (D)                 <r>the deployed token is refused by Fastly (401); 2 leftovers</r>",
  "dev          <r>absent   </r>  absent                   <r>the secret store holds no token</r>",
  "ok           <g>ok       </g>  OK, expires 2027-06-01   <d>—</d>",
  "<r>5 token(s), 5 environment(s): 2 critical, 1 warning(s), 3 note(s)</r>",
];

const w90 = [
  "note: listing\\nrefused",
  "token      id    env        expires                 time left       last used   findings",
  "ci\\x1b[2J  EXP   prod (de…  2026-11-28  ░░░░░░░░░░  expired 3d ago  2026-11-20  expired 2…",
  "SOON name  SOON  stage      2027-01-10  █░░░░░░░░░  < 1 day         —           due soon …",
  "MID name   MID   prod       2027-01-10  ████░░░░░░  40 days         —           only a no…",
  "",
  "tokens no environment manages (2):",
  "token       id     env         expires                 time left       last used  findings",
  "NEVER name  NEVER  — (deploy…  —           ∞           never           —          ok",
  "GONE name   GONE   —           2027-01-10  ░░░░░░░░░░  expired 0d ago  —          ok",
  "",
  "environment  verdict    deployed token           why",
  "prod         expired    EXP, expires 2026-11-28  the deployed token EXP has expired",
  "stage        attention  X (not managed)          not named s",
  "qa           dead       dead (D)                 the deployed token is refused by Fastly …",
  "dev          absent     absent                   the secret store holds no token",
  "ok           ok         OK, expires 2027-06-01   —",
  "5 token(s), 5 environment(s): 2 critical, 1 warning(s), 3 note(s) (--wide shows each fix)",
];

const w60 = [
  "note: listing\\nrefused",
  "token      id    env              time left       findings",
  "ci\\x1b[2J  EXP   prod (deployed)  expired 3d ago  expired 2…",
  "SOON name  SOON  stage            < 1 day         due soon …",
  "MID name   MID   prod             40 days         only a no…",
  "",
  "tokens no environment manages (2):",
  "token       id     env              time left       findings",
  "NEVER name  NEVER  — (deployed in…  never           ok",
  "GONE name   GONE   —                expired 0d ago  ok",
  "",
  "environment  verdict    deployed token          why",
  "prod         expired    EXP, expires 2026-11-…  the deploye…",
  "stage        attention  X (not managed)         not named s",
  "qa           dead       dead (D)                the deploye…",
  "dev          absent     absent                  the secret …",
  "ok           ok         OK, expires 2027-06-01  —",
  "5 token(s), 5 environment(s): 2 critical, 1 warning(s), 3 note(s)",
  "(--wide shows each fix)",
];

const n110 = [
  "token           id    env              expires                 time left       last used   findings",
  "ci\\x1b[2J       EXP   prod (deployed)  2026-11-28  ░░░░░░░░░░  expired 3d ago  2026-11-20  expired 2 days ago…",
  "a-very-…porter  SOON  stage            2027-01-10  █░░░░░░░░░  < 1 day         —           due soon (+1 more)",
  "MID name        MID   prod             2027-01-10  ████░░░░░░  40 days         —           only a note",
  "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s) (--wide shows each fix)",
];

const n85 = [
  "token           id    env          expires     time left       last used   findings",
  "ci\\x1b[2J       EXP   prod (depl…  2026-11-28  expired 3d ago  2026-11-20  expired 2…",
  "a-very-…porter  SOON  stage        2027-01-10  < 1 day         —           due soon …",
  "MID name        MID   prod         2027-01-10  40 days         —           only a no…",
  "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s)",
  "(--wide shows each fix)",
];

const n76 = [
  "token           id    env             expires     time left       findings",
  "ci\\x1b[2J       EXP   prod (deploye…  2026-11-28  expired 3d ago  expired 2…",
  "a-very-…porter  SOON  stage           2027-01-10  < 1 day         due soon …",
  "MID name        MID   prod            2027-01-10  40 days         only a no…",
  "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s)",
  "(--wide shows each fix)",
];

const n70 = [
  "token           id    env       expires     time left       findings",
  "ci\\x1b[2J       EXP   prod (d…  2026-11-28  expired 3d ago  expired 2…",
  "a-very-…porter  SOON  stage     2027-01-10  < 1 day         due soon …",
  "MID name        MID   prod      2027-01-10  40 days         only a no…",
  "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s)",
  "(--wide shows each fix)",
];

const n66 = [
  "token           id    env   expires     time left       findings",
  "ci\\x1b[2J       EXP   pro…  2026-11-28  expired 3d ago  expired 2…",
  "a-very-…porter  SOON  sta…  2027-01-10  < 1 day         due soon …",
  "MID name        MID   prod  2027-01-10  40 days         only a no…",
  "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s)",
  "(--wide shows each fix)",
];

describe("renderStatus, line by line", () => {
  it("paints each cell by its row's worst finding, with every finding when nothing is cut", () => {
    assert.deepEqual(renderStatus(report, paint).split("\n"), plain);
  });

  it("--wide adds user agent, access, services and the fixes of what needs action, cutting nothing", () => {
    assert.deepEqual(renderStatus(report, paint, { wide: true, width: 40 }).split("\n"), wide);
  });

  it("cuts to a terminal's width, dropping the bar, then last use, then the expiry", () => {
    assert.deepEqual(renderStatus(report, undefined, { width: 90 }).split("\n"), w90);
    assert.deepEqual(renderStatus(report, undefined, { width: 60 }).split("\n"), w60);
    for (const [width, want] of [
      [110, n110],
      [85, n85],
      [76, n76],
      [70, n70],
      [66, n66],
    ] as const) {
      assert.deepEqual(renderStatus(narrow, undefined, { width }).split("\n"), want, `width ${width}`);
    }
  });

  it("says when there are no tokens, and keeps the summary green", () => {
    const empty: StatusReport = { ...narrow, tokens: [], summary: { critical: 0, warning: 0, info: 1 } };
    assert.deepEqual(renderStatus(empty, paint).split("\n"), [
      "<d>no automation tokens</d>",
      "<g>0 token(s), 0 environment(s): 0 critical, 0 warning(s), 1 note(s)</g>",
    ]);
  });

  it("lists only unmanaged tokens without a blank line first, and a warning summary in yellow", () => {
    const only: StatusReport = {
      ...narrow,
      tokens: [token("U", { managed: false })],
      summary: { critical: 0, warning: 1, info: 0 },
    };
    const lines = renderStatus(only, paint, { width: 200 }).split("\n");
    assert.equal(lines[0], "<b>tokens no environment manages (1):</b>");
    assert.equal(
      lines.at(-1),
      "<y>1 token(s), 0 environment(s): 0 critical, 1 warning(s), 0 note(s) (--wide shows each fix)</y>",
    );
  });

  it("keeps the hint on the summary's line when it fits exactly", () => {
    const summary = "3 token(s), 0 environment(s): 2 critical, 1 warning(s), 3 note(s)";
    const hint = "(--wide shows each fix)";
    const exact = summary.length + 1 + hint.length;
    assert.equal(
      renderStatus(narrow, undefined, { width: exact + 40 })
        .split("\n")
        .at(-1),
      `${summary} ${hint}`,
    );
    const lines = renderStatus({ ...narrow, tokens: [] }, undefined, { width: exact });
    assert.equal(lines.split("\n").at(-1), `${summary.replace("3 token", "0 token")} ${hint}`);
    const under = renderStatus({ ...narrow, tokens: [] }, undefined, { width: exact - 1 }).split("\n");
    assert.deepEqual(under.slice(-2), [summary.replace("3 token", "0 token"), hint]);
  });

  it("keeps a deployed environment name whole however narrow, and cuts the rest to at least one …", () => {
    const lines = renderStatus(report, undefined, { width: 20 }).split("\n");
    assert.ok(lines.some((l) => l.startsWith("stage ")));
    assert.ok(lines.some((l) => l.includes("…")));
  });
});

describe("timeBar", () => {
  it("fills by the fraction left, rounding up, and never overflows", () => {
    assert.equal(timeBar(100, 100), "██████████");
    assert.equal(timeBar(200, 100), "██████████");
    assert.equal(timeBar(50, 100), "█████░░░░░");
    assert.equal(timeBar(41, 100), "█████░░░░░");
    assert.equal(timeBar(1, 100), "█░░░░░░░░░");
    assert.equal(timeBar(0, 100), "░░░░░░░░░░");
    assert.equal(timeBar(-5, 100), "░░░░░░░░░░");
    assert.equal(timeBar(undefined, 100), "∞         ");
    assert.equal(timeBar(3, 4, 4), "███░");
    assert.equal(timeBar(undefined, 4, 3), "∞  ");
  });
});

/**
 * Each column's width (its heading and the gap after it) and the longest table line, at every
 * terminal width: which columns are dropped, and how much each flexible one gives, width by width.
 */
function layout(r: StatusReport, width: number): string {
  const lines = renderStatus(r, undefined, { width }).split("\n");
  const rows = lines.filter((l) => !/^\d+ token\(s\)|^\(--wide|^note:|^tokens no|^$/.test(l));
  const heads = lines.filter((l) => /^(token|environment) /.test(l));
  const cols = heads.map((h) =>
    [...h.matchAll(/(\S+(?: \S+)*)( *)/g)].map((m) => `${m[1]}:${m[0].length}`).join(" "),
  );
  return `${width} ${Math.max(...rows.map((l) => l.length))}: ${cols.join(" / ")}`;
}

const narrowLayouts = [
  "40 54: token:16 id:6 env:6 time left:16 findings:8",
  "41 54: token:16 id:6 env:6 time left:16 findings:8",
  "42 54: token:16 id:6 env:6 time left:16 findings:8",
  "43 54: token:16 id:6 env:6 time left:16 findings:8",
  "44 54: token:16 id:6 env:6 time left:16 findings:8",
  "45 54: token:16 id:6 env:6 time left:16 findings:8",
  "46 54: token:16 id:6 env:6 time left:16 findings:8",
  "47 54: token:16 id:6 env:6 time left:16 findings:8",
  "48 54: token:16 id:6 env:6 time left:16 findings:8",
  "49 54: token:16 id:6 env:6 time left:16 findings:8",
  "50 54: token:16 id:6 env:6 time left:16 findings:8",
  "51 54: token:16 id:6 env:6 time left:16 findings:8",
  "52 54: token:16 id:6 env:6 time left:16 findings:8",
  "53 54: token:16 id:6 env:6 time left:16 findings:8",
  "54 54: token:16 id:6 env:6 time left:16 findings:8",
  "55 55: token:16 id:6 env:7 time left:16 findings:8",
  "56 56: token:16 id:6 env:8 time left:16 findings:8",
  "57 57: token:16 id:6 env:9 time left:16 findings:8",
  "58 58: token:16 id:6 env:10 time left:16 findings:8",
  "59 59: token:16 id:6 env:11 time left:16 findings:8",
  "60 60: token:16 id:6 env:12 time left:16 findings:8",
  "61 61: token:16 id:6 env:13 time left:16 findings:8",
  "62 62: token:16 id:6 env:14 time left:16 findings:8",
  "63 63: token:16 id:6 env:15 time left:16 findings:8",
  "64 64: token:16 id:6 env:16 time left:16 findings:8",
  "65 65: token:16 id:6 env:17 time left:16 findings:8",
  "66 66: token:16 id:6 env:6 expires:12 time left:16 findings:8",
  "67 67: token:16 id:6 env:7 expires:12 time left:16 findings:8",
  "68 68: token:16 id:6 env:8 expires:12 time left:16 findings:8",
  "69 69: token:16 id:6 env:9 expires:12 time left:16 findings:8",
  "70 70: token:16 id:6 env:10 expires:12 time left:16 findings:8",
  "71 71: token:16 id:6 env:11 expires:12 time left:16 findings:8",
  "72 72: token:16 id:6 env:12 expires:12 time left:16 findings:8",
  "73 73: token:16 id:6 env:13 expires:12 time left:16 findings:8",
  "74 74: token:16 id:6 env:14 expires:12 time left:16 findings:8",
  "75 75: token:16 id:6 env:15 expires:12 time left:16 findings:8",
  "76 76: token:16 id:6 env:16 expires:12 time left:16 findings:8",
  "77 77: token:16 id:6 env:17 expires:12 time left:16 findings:8",
  "78 78: token:16 id:6 env:6 expires:12 time left:16 last used:12 findings:8",
  "79 79: token:16 id:6 env:7 expires:12 time left:16 last used:12 findings:8",
  "80 80: token:16 id:6 env:8 expires:12 time left:16 last used:12 findings:8",
  "81 81: token:16 id:6 env:9 expires:12 time left:16 last used:12 findings:8",
  "82 82: token:16 id:6 env:10 expires:12 time left:16 last used:12 findings:8",
  "83 83: token:16 id:6 env:11 expires:12 time left:16 last used:12 findings:8",
  "84 84: token:16 id:6 env:12 expires:12 time left:16 last used:12 findings:8",
  "85 85: token:16 id:6 env:13 expires:12 time left:16 last used:12 findings:8",
  "86 86: token:16 id:6 env:14 expires:12 time left:16 last used:12 findings:8",
  "87 87: token:16 id:6 env:15 expires:12 time left:16 last used:12 findings:8",
  "88 88: token:16 id:6 env:16 expires:12 time left:16 last used:12 findings:8",
  "89 89: token:16 id:6 env:17 expires:12 time left:16 last used:12 findings:8",
  "90 90: token:16 id:6 env:6 expires:24 time left:16 last used:12 findings:8",
  "91 91: token:16 id:6 env:7 expires:24 time left:16 last used:12 findings:8",
  "92 92: token:16 id:6 env:8 expires:24 time left:16 last used:12 findings:8",
  "93 93: token:16 id:6 env:9 expires:24 time left:16 last used:12 findings:8",
  "94 94: token:16 id:6 env:10 expires:24 time left:16 last used:12 findings:8",
  "95 95: token:16 id:6 env:11 expires:24 time left:16 last used:12 findings:8",
  "96 96: token:16 id:6 env:12 expires:24 time left:16 last used:12 findings:8",
  "97 97: token:16 id:6 env:13 expires:24 time left:16 last used:12 findings:8",
  "98 98: token:16 id:6 env:14 expires:24 time left:16 last used:12 findings:8",
  "99 99: token:16 id:6 env:15 expires:24 time left:16 last used:12 findings:8",
  "100 100: token:16 id:6 env:16 expires:24 time left:16 last used:12 findings:8",
  "101 101: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "102 102: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "103 103: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "104 104: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "105 105: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "106 106: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "107 107: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "108 108: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "109 109: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "110 110: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "111 111: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "112 112: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "113 113: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "114 114: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "115 115: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "116 116: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "117 117: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "118 118: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "119 119: token:16 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "120 120: token:17 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "121 121: token:18 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "122 122: token:19 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "123 123: token:20 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "124 124: token:21 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
  "125 125: token:22 id:6 env:17 expires:24 time left:16 last used:12 findings:8",
];

const fullLayouts = [
  "50 60: token:11 id:6 env:8 time left:16 findings:8 / token:12 id:7 env:8 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "51 60: token:11 id:6 env:8 time left:16 findings:8 / token:12 id:7 env:8 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "52 60: token:11 id:6 env:9 time left:16 findings:8 / token:12 id:7 env:9 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "53 60: token:11 id:6 env:10 time left:16 findings:8 / token:12 id:7 env:10 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "54 60: token:11 id:6 env:11 time left:16 findings:8 / token:12 id:7 env:11 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "55 60: token:11 id:6 env:12 time left:16 findings:8 / token:12 id:7 env:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "56 60: token:11 id:6 env:13 time left:16 findings:8 / token:12 id:7 env:13 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "57 60: token:11 id:6 env:14 time left:16 findings:8 / token:12 id:7 env:14 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "58 60: token:11 id:6 env:15 time left:16 findings:8 / token:12 id:7 env:15 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "59 60: token:11 id:6 env:16 time left:16 findings:8 / token:12 id:7 env:16 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "60 60: token:11 id:6 env:17 time left:16 findings:8 / token:12 id:7 env:17 time left:16 findings:8 / environment:13 verdict:11 deployed token:24 why:3",
  "61 61: token:11 id:6 env:17 time left:16 findings:8 / token:12 id:7 env:18 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "62 62: token:11 id:6 env:17 time left:16 findings:8 / token:12 id:7 env:19 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "63 63: token:11 id:6 env:8 expires:12 time left:16 findings:8 / token:12 id:7 env:8 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "64 64: token:11 id:6 env:9 expires:12 time left:16 findings:8 / token:12 id:7 env:9 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "65 65: token:11 id:6 env:10 expires:12 time left:16 findings:8 / token:12 id:7 env:10 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "66 66: token:11 id:6 env:11 expires:12 time left:16 findings:8 / token:12 id:7 env:11 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "67 67: token:11 id:6 env:12 expires:12 time left:16 findings:8 / token:12 id:7 env:12 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "68 68: token:11 id:6 env:13 expires:12 time left:16 findings:8 / token:12 id:7 env:13 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "69 69: token:11 id:6 env:14 expires:12 time left:16 findings:8 / token:12 id:7 env:14 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "70 70: token:11 id:6 env:15 expires:12 time left:16 findings:8 / token:12 id:7 env:15 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "71 71: token:11 id:6 env:16 expires:12 time left:16 findings:8 / token:12 id:7 env:16 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "72 72: token:11 id:6 env:17 expires:12 time left:16 findings:8 / token:12 id:7 env:17 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "73 73: token:11 id:6 env:17 expires:12 time left:16 findings:8 / token:12 id:7 env:18 expires:12 time left:16 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "74 74: token:11 id:6 env:17 expires:12 time left:16 findings:8 / token:12 id:7 env:8 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "75 75: token:11 id:6 env:8 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:9 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "76 76: token:11 id:6 env:9 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:10 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "77 77: token:11 id:6 env:10 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:11 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "78 78: token:11 id:6 env:11 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:12 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "79 79: token:11 id:6 env:12 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:13 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "80 80: token:11 id:6 env:13 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:14 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "81 81: token:11 id:6 env:14 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:15 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "82 82: token:11 id:6 env:15 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:16 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "83 83: token:11 id:6 env:16 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:17 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "84 84: token:11 id:6 env:17 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:18 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "85 85: token:11 id:6 env:17 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:19 expires:12 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "86 86: token:11 id:6 env:17 expires:12 time left:16 last used:12 findings:8 / token:12 id:7 env:8 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "87 87: token:11 id:6 env:8 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:9 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "88 88: token:11 id:6 env:9 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:10 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "89 89: token:11 id:6 env:10 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:11 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "90 90: token:11 id:6 env:11 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:12 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "91 91: token:11 id:6 env:12 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:13 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "92 92: token:11 id:6 env:13 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:14 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "93 93: token:11 id:6 env:14 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:15 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "94 94: token:11 id:6 env:15 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:16 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "95 95: token:11 id:6 env:16 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:17 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "96 96: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:18 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "97 97: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:19 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "98 98: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:20 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "99 99: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:21 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "100 100: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:22 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "101 101: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:23 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "102 102: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:24 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "103 103: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:25 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "104 104: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:26 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "105 105: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "106 106: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "107 107: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "108 108: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "109 109: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "110 110: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "111 111: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "112 112: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "113 113: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "114 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "115 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "116 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "117 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "118 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "119 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "120 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "121 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "122 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "123 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "124 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "125 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "126 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "127 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "128 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "129 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "130 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "131 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "132 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "133 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "134 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "135 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "136 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "137 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "138 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "139 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "140 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "141 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "142 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "143 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "144 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "145 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "146 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "147 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "148 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "149 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
  "150 114: token:11 id:6 env:17 expires:24 time left:16 last used:12 findings:8 / token:12 id:7 env:27 expires:24 time left:16 last used:11 findings:8 / environment:13 verdict:11 deployed token:25 why:3",
];

describe("renderStatus at every width", () => {
  it("drops and cuts columns the same way, width by width", () => {
    for (const want of narrowLayouts) assert.equal(layout(narrow, Number(want.split(" ")[0])), want);
    for (const want of fullLayouts) assert.equal(layout(report, Number(want.split(" ")[0])), want);
  });
});
