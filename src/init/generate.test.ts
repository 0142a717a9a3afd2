import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { parseConfig } from "../config/parse.ts";
import type { AutomationToken, Service } from "../fastly/types.ts";
import {
  holdsWord,
  matchToken,
  parseEnvRequests,
  quoteYaml,
  renderConfig,
  resolveEnvironments,
  servicesSelector,
  tokenSettings,
} from "./generate.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-12-01T00:00:00Z");

function token(name: string, fields: Partial<AutomationToken> = {}): AutomationToken {
  return {
    id: `id-${name.replace(/\W/g, "")}`.padEnd(22, "x").slice(0, 22),
    name,
    role: "engineer",
    scopes: ["global:read"],
    services: [],
    createdAt: new Date(NOW.getTime() - 300 * DAY),
    expiresAt: new Date(NOW.getTime() + 65 * DAY),
    ...fields,
  };
}

const SERVICES: Service[] = [
  { id: "s-www-staging", name: "www Staging" },
  { id: "s-assets-staging", name: "assets Staging" },
  { id: "s-www-prod", name: "www Production" },
  { id: "s-prestaging", name: "PreStaging lab" },
  { id: "s-data", name: "datagovuk" },
];

describe("parseEnvRequests", () => {
  it("splits NAME=TOKEN at the first =, and refuses what cannot be an environment", () => {
    assert.deepEqual(parseEnvRequests(["staging", "prod=a token = with equals"]).requests, [
      { name: "staging" },
      { name: "prod", token: "a token = with equals" },
    ]);
    assert.match(parseEnvRequests(["Staging"]).error ?? "", /invalid environment name "Staging"/);
    assert.match(parseEnvRequests(["staging="]).error ?? "", /--env staging= names no token/);
    assert.match(parseEnvRequests(["a", "a=x"]).error ?? "", /--env a is given twice/);
    assert.match(parseEnvRequests([]).error ?? "", /name at least one environment/);
  });
});

describe("holdsWord", () => {
  it("finds the environment's name as a word of the token's name, in any case", () => {
    assert.equal(holdsWord("GOV.UK exporter token for Staging", "staging"), true);
    assert.equal(holdsWord("fastly-exporter-staging", "staging"), true);
    assert.equal(holdsWord("prestaging token", "staging"), false);
    assert.equal(holdsWord("staging2", "staging"), false);
    assert.equal(holdsWord("production token", "prod"), false);
    assert.equal(holdsWord("ci_prod", "prod"), true);
  });
});

describe("matchToken", () => {
  const old = token("exporter staging", { id: "aaaaaaaaaaaaaaaaaaaaaa" });
  const fresh = token("exporter staging", { id: "bbbbbbbbbbbbbbbbbbbbbb", createdAt: NOW });
  const ci = token("ci staging deploy", { id: "cccccccccccccccccccccc" });
  it("groups tokens of one name, newest first; several names are several matches", () => {
    const one = matchToken({ name: "staging" }, [old, fresh]);
    assert.equal(one.kind, "one");
    assert.deepEqual(one.kind === "one" && one.group.tokens.map((t) => t.id), [fresh.id, old.id]);
    const several = matchToken({ name: "staging" }, [old, fresh, ci]);
    assert.equal(several.kind, "several");
    assert.equal(several.kind === "several" && several.groups.length, 2);
    assert.equal(matchToken({ name: "qa" }, [old, ci]).kind, "none");
  });
  it("an explicit id picks its name's group; a name matches exactly, then in another case", () => {
    const byId = matchToken({ name: "x", token: old.id }, [old, fresh, ci]);
    assert.equal(byId.kind === "one" && byId.group.tokens.length, 2);
    const byName = matchToken({ name: "x", token: "CI Staging Deploy" }, [old, ci]);
    assert.equal(byName.kind === "one" && byName.group.name, "ci staging deploy");
    assert.equal(matchToken({ name: "x", token: "nope" }, [old]).kind, "none");
  });
});

describe("servicesSelector", () => {
  it("a name pattern when one picks exactly the token's services, the environment's name first", () => {
    const picked = servicesSelector(
      { services: ["s-www-staging", "s-assets-staging"], limitServices: true },
      SERVICES.filter((s) => s.id !== "s-prestaging"),
      "staging",
    );
    assert.deepEqual(picked.selector, { nameMatches: "[Ss]taging" });
    // "PreStaging lab" would match [Ss]taging and Staging: the word boundary keeps it out.
    const bounded = servicesSelector(
      { services: ["s-www-staging", "s-assets-staging"], limitServices: true },
      SERVICES,
      "staging",
    );
    assert.deepEqual(bounded.selector, { nameMatches: "\\b[Ss]taging\\b" });
  });
  it("ids when no word picks exactly them; all for a token not limited; missing ids left out", () => {
    assert.deepEqual(
      servicesSelector({ services: ["s-www-staging", "s-data"], limitServices: true }, SERVICES, "x")
        .selector,
      { ids: ["s-data", "s-www-staging"] },
    );
    assert.deepEqual(servicesSelector({ services: [], limitServices: false }, SERVICES, "x").selector, {
      all: true,
    });
    // The 2024-2025 API: no limit_services, and no services means every one.
    assert.deepEqual(servicesSelector({ services: [] }, SERVICES, "x").selector, { all: true });
    const gone = servicesSelector({ services: ["s-data", "s-deleted"] }, SERVICES, "x");
    assert.deepEqual(gone.missing, ["s-deleted"]);
    assert.deepEqual(gone.selector, { nameMatches: "[Dd]atagovuk" });
    assert.equal(servicesSelector({ services: ["s-deleted"] }, SERVICES, "x").selector, undefined);
  });
});

describe("tokenSettings", () => {
  it("the lifetime in days; a short one gets a rotateBefore of a third", () => {
    assert.deepEqual(tokenSettings(token("a")).settings, {
      access: { role: "engineer" },
      scope: "global:read",
      expiresIn: "365d",
    });
    const short = tokenSettings(
      token("b", { createdAt: NOW, expiresAt: new Date(NOW.getTime() + 30 * DAY + 5_000) }),
    );
    assert.equal(short.settings.expiresIn, "30d");
    assert.equal(short.settings.rotateBefore, "10d");
    const hours = tokenSettings(
      token("c", { createdAt: NOW, expiresAt: new Date(NOW.getTime() + 12 * 3_600_000) }),
    );
    assert.deepEqual([hours.settings.expiresIn, hours.settings.rotateBefore], ["12h", "4h"]);
  });
  it("roles when several or custom, tlsAccess and workspaces kept, a token that never expires said", () => {
    const roles = tokenSettings(
      token("a", {
        roles: [
          { id: "r1", name: "engineer" },
          { id: "r2", name: "waf-reader" },
        ],
        tlsAccess: true,
        workspaces: ["ws1"],
      }),
    ).settings;
    assert.deepEqual(roles.access, { roles: ["engineer", "waf-reader"] });
    assert.equal(roles.tlsAccess, true);
    assert.deepEqual(roles.workspaces, ["ws1"]);
    assert.deepEqual(tokenSettings(token("b", { role: "custom-one" })).settings.access, {
      roles: ["custom-one"],
    });
    const { expiresAt: _never, ...noExpiry } = token("c");
    const forever = tokenSettings(noExpiry);
    assert.equal(forever.settings.expiresIn, undefined);
    assert.match(forever.warnings[0] ?? "", /never expires/);
  });
});

describe("quoteYaml", () => {
  it("reads back as it was, with nothing invisible left raw", () => {
    const hostile = [
      "plain",
      "yes",
      "007",
      "# not a comment",
      "key: value",
      "  leading and trailing  ",
      'quote " and \\ backslash',
      "single ' quote and \\b",
      "esc \x1b[31m bell \x07 nul \x00 del \x7f",
      "nel \u0085 ls \u2028 ps \u2029 rlo \u202e bom \ufeff zwsp \u200b",
      "cr\r\nlf",
      "emoji 🙂 and ünïcödé",
    ];
    for (const text of hostile) {
      const quoted = quoteYaml(text);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(quoted, /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]/, quoted);
      assert.equal((parse(`k: ${quoted}`) as { k: string }).k, text, quoted);
    }
  });
});

describe("renderConfig", () => {
  it("writes a valid config; shared settings go to defaults only when all share them", () => {
    const tokens = [
      token("exporter staging", { services: ["s-www-staging", "s-assets-staging"], limitServices: true }),
      token("exporter production", { services: ["s-www-prod"], limitServices: true, scopes: ["global"] }),
    ];
    const { environments, problems } = resolveEnvironments(
      [{ name: "staging" }, { name: "production" }],
      tokens,
      SERVICES,
    );
    assert.deepEqual(problems, []);
    for (const store of ["file", "aws-secrets-manager", "kubernetes-secret"] as const) {
      const text = renderConfig(environments, { store, now: NOW, endpoint: "https://api.fastly.com" });
      const result = parseConfig(text, { baseDir: "/tmp/x" });
      assert.deepEqual(result.errors, [], text);
      const doc = parse(text) as { defaults: { token: unknown }; environments: { token: unknown }[] };
      assert.deepEqual(doc.defaults.token, { role: "engineer", expiresIn: "365d" });
      assert.deepEqual(doc.environments[1]!.token, {
        name: "exporter production",
        services: { nameMatches: "[Pp]roduction" },
        scope: "global",
      });
      assert.equal(result.config!.environments[1]!.approval, "required");
    }
    const one = parse(renderConfig(environments.slice(0, 1), { store: "file", now: NOW })) as {
      defaults?: unknown;
    };
    assert.equal(one.defaults, undefined);
  });

  it("ids, roles, scopes and workspaces from the account are quoted too, and read back as they are", () => {
    const odd = { id: "odd: id \x1b[2J", name: "odd \u202e service" };
    const services = [...SERVICES, odd];
    const t = token("weird staging", {
      services: [odd.id, "s-data"],
      limitServices: true,
      roles: [
        { id: "r1", name: "engineer" },
        { id: "r2", name: "role\x07 #x" },
      ],
      workspaces: ["ws\u2028 1", "plainWs2"],
    });
    const { environments } = resolveEnvironments([{ name: "staging" }], [t], services);
    const text = renderConfig(environments, { store: "file", now: NOW });
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028-\u202e]/, text);
    assert.match(text, /# odd \\u202e service/);
    assert.match(text, /- plainWs2\n/);
    const doc = parse(text) as { environments: { token: Record<string, unknown> }[] };
    const written = doc.environments[0]!.token;
    assert.deepEqual(written.services, { ids: ["s-data", odd.id] });
    assert.deepEqual(written.roles, ["engineer", "role\x07 #x"]);
    assert.deepEqual(written.workspaces, ["ws\u2028 1", "plainWs2"]);
    assert.equal(written.scope, "global:read");
  });

  it("an endpoint allowed plain http off this machine is written with allowInsecure, so the config validates", () => {
    const { environments } = resolveEnvironments(
      [{ name: "staging" }],
      [token("exporter staging")],
      SERVICES,
    );
    const endpoint = "http://10.1.2.3:8080";
    const allowed = parseConfig(
      renderConfig(environments, { store: "file", now: NOW, endpoint, allowInsecure: true }),
      {
        baseDir: "/tmp",
      },
    );
    assert.deepEqual(allowed.errors, []);
    assert.ok(allowed.warnings.some((w) => /allowed by fastly.allowInsecure/.test(w.message)));
    const refused = parseConfig(renderConfig(environments, { store: "file", now: NOW, endpoint }), {
      baseDir: "/tmp",
    });
    assert.equal(refused.errors.length, 1);
  });
});
