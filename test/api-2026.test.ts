/**
 * Fastly's API as it is since 2026-09, against the emulator serving it: several roles (`GET
 * /roles`), `limit_services` (default false: every service), problem+json errors, and the 2025
 * switch that keeps the recorded shapes; a rotation of a service-limited token with roles; role
 * names checked by `validate` and `plan`; expiry judged by the API's clock (the emulator's, moved
 * through its admin API, never by waiting).
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createFastlyClient } from "../src/fastly/index.ts";
import {
  createEmulator,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type Seed,
} from "../src/emulator/index.ts";
import type { Plan } from "../src/plan/index.ts";
import { loadConfig } from "../src/config/index.ts";
import { startServe, type CheckResult, type StatusReport } from "../src/monitor/index.ts";
import { runCli } from "./helpers/cli.ts";
import { DEMO_TOKEN_VALUES, world, type World } from "./helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const DAY_MS = 86_400_000;

/** The demo account with a custom role. */
const seed: Seed = {
  ...demoSeed,
  roles: [{ name: "auditor", description: "Reads audit logs" }],
};

async function call(
  base: string,
  path: string,
  init: { method?: string; json?: unknown; key?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; type: string | null }> {
  const response = await fetch(base + path, {
    method: init.method ?? "GET",
    headers: {
      "Fastly-Key": init.key ?? superuser.token,
      ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    type: response.headers.get("content-type"),
  };
}

describe("the emulator serves today's API, and the 2025 shapes on request", () => {
  it("GET /roles lists the built-in roles, highest priority first, and the account's own", async () => {
    const emu = await createEmulator({ seed });
    try {
      const roles = await call(emu.url, "/roles");
      assert.equal(roles.status, 200);
      const data = roles.body["data"] as { id: string; name: string; custom: boolean }[];
      assert.deepEqual(
        data.map((r) => [r.name, r.custom]),
        [
          ["engineer", false],
          ["user", false],
          ["billing", false],
          ["auditor", true],
        ],
      );
      for (const r of data) assert.match(r.id, /^[0-9A-Za-z]{22}$/);
      const client = createFastlyClient({ token: superuser.token, endpoint: emu.url });
      assert.deepEqual(
        (await client.listRoles()).map((r) => r.name),
        ["engineer", "user", "billing", "auditor"],
      );
    } finally {
      await emu.close();
    }
  });

  it("a create without limit_services reaches every service; with it, only the services; roles by id", async () => {
    const emu = await createEmulator({ seed });
    try {
      assert.equal(
        (await call(emu.url, "/sudo", { method: "POST", json: { password: superuser.password } })).status,
        200,
      );
      const roles = (await call(emu.url, "/roles")).body["data"] as { id: string; name: string }[];
      const id = (name: string) => roles.find((r) => r.name === name)!.id;
      const services = [demoServiceIds["www Staging"]];

      const unlimited = await call(emu.url, "/automation-tokens", {
        method: "POST",
        json: { name: "old body", role: "engineer", scope: "global:read", services },
      });
      assert.equal(unlimited.status, 200);
      assert.deepEqual(unlimited.body["services"], []);
      assert.equal(unlimited.body["limit_services"], false);
      assert.deepEqual(unlimited.body["roles"], [{ id: id("engineer"), name: "engineer" }]);

      const limited = await call(emu.url, "/automation-tokens", {
        method: "POST",
        json: {
          name: "new body",
          role: "billing",
          roles: [id("auditor"), id("engineer")],
          scope: "global:read",
          services,
          limit_services: true,
        },
      });
      assert.equal(limited.status, 200);
      assert.deepEqual(limited.body["services"], services);
      assert.equal(limited.body["limit_services"], true);
      // `roles` takes precedence over `role`; `role` is the highest-priority one.
      assert.equal(limited.body["role"], "engineer");
      assert.deepEqual(
        (limited.body["roles"] as { name: string }[]).map((r) => r.name),
        ["engineer", "auditor"],
      );
      // What the token can see follows limit_services.
      const seen = async (key: string) =>
        ((await (await fetch(`${emu.url}/service`, { headers: { "Fastly-Key": key } })).json()) as unknown[])
          .length;
      assert.equal(await seen(unlimited.body["access_token"] as string), Object.keys(demoServiceIds).length);
      assert.equal(await seen(limited.body["access_token"] as string), 1);
      const self = await call(emu.url, "/tokens/self", { key: limited.body["access_token"] as string });
      assert.equal(self.body["limit_services"], true);
      assert.deepEqual(self.body["services"], services);

      // Errors of the automation-token endpoints are problem+json.
      const bad = await call(emu.url, "/automation-tokens", {
        method: "POST",
        json: { name: "bad", roles: ["NoSuchRole000000000000"], scope: "global:read" },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.type, "application/problem+json");
      assert.equal(bad.body["status"], 400);
      assert.equal(bad.body["title"], "Bad request");
      assert.match(bad.body["detail"] as string, /Unknown role id 'NoSuchRole000000000000'/);
    } finally {
      await emu.close();
    }
  });

  it("apiVersion 2025 keeps the recorded shapes and semantics: services alone limit, no roles[]", async () => {
    const emu = await createEmulator({ seed, apiVersion: "2025" });
    try {
      assert.equal(
        (await call(emu.url, "/sudo", { method: "POST", json: { password: superuser.password } })).status,
        200,
      );
      const services = [demoServiceIds["www Staging"]];
      const created = await call(emu.url, "/automation-tokens", {
        method: "POST",
        json: { name: "n", role: "engineer", scope: "global:read", services },
      });
      assert.equal(created.status, 200);
      assert.deepEqual(created.body["services"], services);
      assert.ok(!("roles" in created.body) && !("limit_services" in created.body));
      const refused = await call(emu.url, "/automation-tokens", {
        method: "POST",
        key: exporterTokens.integration.token,
        json: { name: "n", role: "engineer" },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.type, "application/json");
      assert.ok(typeof refused.body["msg"] === "string");
      // The client reads both shapes.
      const client = createFastlyClient({ token: superuser.token, endpoint: emu.url });
      const listed = (await client.listAutomationTokens()).find((t) => t.id === created.body["id"]);
      assert.deepEqual(listed?.services, services);
      assert.equal(listed?.roles, undefined);
      assert.equal(listed?.limitServices, undefined);
    } finally {
      await emu.close();
    }
  });
});

describe("rotation on the 2026 API", () => {
  let w: World<"fastly">;
  const env = { FASTLY_API_TOKEN: superuser.token, FASTLY_SUDO_PASSWORD: superuser.password };
  const config = (roles: string) => `version: 1
fastly: { endpoint: "URL" }
environments:
  - name: integration
    token:
      name: ${exporterTokens.integration.name}
      services: { nameMatches: "Integration" }
      roles: ${roles}
    secret: { type: file, path: ./integration.txt }
`;

  before(async () => {
    w = await world({ dir: "ftr-api-2026-", fastly: seed });
  });
  after(() => w.close());

  const run = (argv: string[]) => runCli(argv, { env, cwd: w.dir });
  const assertNoSecrets = (text: string) => {
    for (const secret of [...DEMO_TOKEN_VALUES, superuser.password])
      assert.ok(!text.includes(secret), "a secret appears in the output");
  };

  it("validate and plan with an unknown role fail, listing the account's roles", async () => {
    await w.admin.reset();
    await w.writeConfig(config("[engineer, wizard]").replace("URL", w.emulator.url));
    await w.writeSecret("integration.txt", exporterTokens.integration.token);
    const validate = await run(["validate", "--config", "ftr.yaml"]);
    assert.equal(validate.code, 2, validate.stdout + validate.stderr);
    assert.match(
      validate.stdout,
      /environments\[0\]\.token\.roles.*unknown role "wizard" in token\.roles: the account's roles are engineer, user, billing, auditor/,
    );
    const plan = await run(["plan", "--config", "ftr.yaml", "--json"]);
    assert.equal(plan.code, 1, plan.stderr);
    const integration = (JSON.parse(plan.stdout) as Plan).environments[0]!;
    assert.equal(integration.decision, "error");
    assert.match(integration.errors.join("\n"), /unknown role "wizard".*engineer, user, billing, auditor/);
    // Without a credential validate cannot ask, and says so.
    const offline = await runCli(["validate", "--config", "ftr.yaml"], { env: {}, cwd: w.dir });
    assert.equal(offline.code, 0, offline.stdout);
    assert.match(offline.stdout, /token\.roles was not checked against the account's roles/);
    assertNoSecrets(validate.stdout + validate.stderr + plan.stdout + plan.stderr);
  });

  it("a service-limited token with two roles rotates: the new token has exactly the asked services and roles", async () => {
    await w.admin.reset();
    await w.writeConfig(config("[engineer, auditor]").replace("URL", w.emulator.url));
    await w.writeSecret("integration.txt", exporterTokens.integration.token);
    const result = await run(["rotate", "--config", "ftr.yaml", "--yes", "--force"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const state = await w.admin.state();
    const minted = state.automationTokens.filter(
      (t) => t.name === exporterTokens.integration.name && t.id !== exporterTokens.integration.id,
    );
    assert.equal(minted.length, 1);
    const token = minted[0]!;
    // Without limit_services: true in the create, the 2026 API would have given every service and
    // the test step would have rolled the rotation back.
    assert.equal(token.limitServices, true);
    assert.deepEqual(
      [...token.services].sort(),
      [demoServiceIds["www Integration"], demoServiceIds["assets Integration"]].sort(),
    );
    assert.deepEqual(token.roles, ["engineer", "auditor"]);
    assert.equal(token.role, "engineer");
    assert.notEqual(
      state.automationTokens.find((t) => t.id === exporterTokens.integration.id)?.revokedAt,
      null,
      "the old token is revoked",
    );
    assertNoSecrets(result.stdout + result.stderr);
  });
});

/**
 * A proxy in front of the emulator that drops `limit_services` and `roles` from creates: an API
 * that ignores them, as the 2026 API did for every client that did not send them.
 */
async function startIgnoringProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.method === "POST" && req.url === "/automation-tokens") {
        const json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
        delete json["limit_services"];
        delete json["roles"];
        body = Buffer.from(JSON.stringify(json));
      }
      const headers = { ...req.headers, "content-length": String(body.length) };
      const forward = request(new URL(req.url ?? "/", target), { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("the test step judges what the API made", () => {
  let w: World<"fastly">;

  before(async () => {
    w = await world({ dir: "ftr-api-2026-test-step-", fastly: seed });
  });
  after(() => w.close());

  it("a token given every service and fewer roles than asked is rolled back, saying why", async () => {
    const proxy = w.adopt(await startIgnoringProxy(w.emulator.url));
    await w.writeSecret("integration.txt", exporterTokens.integration.token);
    await w.writeConfig(`version: 1
fastly: { endpoint: "${proxy.url}" }
environments:
  - name: integration
    token:
      name: ${exporterTokens.integration.name}
      services: { nameMatches: "Integration" }
      roles: [engineer, auditor]
    secret: { type: file, path: ./integration.txt }
`);
    const result = await runCli(["rotate", "--config", "ftr.yaml", "--yes", "--force"], {
      env: { FASTLY_API_TOKEN: superuser.token, FASTLY_SUDO_PASSWORD: superuser.password },
      cwd: w.dir,
    });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const text = result.stdout + result.stderr;
    assert.match(text, /the new token is not as asked: /);
    assert.match(text, /services are \[\], asked \[/);
    assert.match(text, /it reaches every service \(limit_services is false\)/);
    assert.match(text, /roles are \[engineer\], asked \[/);
    const state = await w.admin.state();
    const minted = state.automationTokens.filter(
      (t) => t.name === exporterTokens.integration.name && t.id !== exporterTokens.integration.id,
    );
    assert.equal(minted.length, 1);
    assert.notEqual(minted[0]!.revokedAt, null, "the broader token is revoked");
    assert.equal(
      state.automationTokens.find((t) => t.id === exporterTokens.integration.id)?.revokedAt,
      null,
      "the old token stays",
    );
  });
});

describe("expiry follows the Fastly API's clock", () => {
  let w: World<"fastly">;
  const env = { FASTLY_API_TOKEN: superuser.token };

  before(async () => {
    w = await world({ dir: "ftr-api-clock-", fastly: seed });
    await w.writeSecret("integration.txt", exporterTokens.integration.token);
    await w.writeConfig(`version: 1
fastly: { endpoint: "${w.emulator.url}" }
environments:
  - name: integration
    token:
      name: ${exporterTokens.integration.name}
      services: { nameMatches: "Integration" }
      rotateBefore: 3d
    secret: { type: file, path: ./integration.txt }
`);
  });
  after(() => w.close());

  const run = (argv: string[]) => runCli(argv, { env, cwd: w.dir });
  const integrationOf = (report: StatusReport) =>
    report.tokens.find((t) => t.id === exporterTokens.integration.id)!;

  it("status, check and plan move with the emulator's clock, not this machine's", async () => {
    // The demo token expires 6 days after the emulator's start: nothing is due within 3 days.
    let check = await run(["check", "--config", "ftr.yaml"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.doesNotMatch(check.stderr, /clock/);

    // Five days later by the API's clock: 1 day left, due, although this machine's clock says 6.
    await w.admin.advanceClock("5d");
    const status = await run(["status", "--config", "ftr.yaml", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const integration = integrationOf(JSON.parse(status.stdout) as StatusReport);
    assert.equal(integration.daysLeft, 0);
    assert.ok(integration.findings.some((f) => f.code === "expiring"));
    assert.match(status.stderr, /warning the Fastly API's clock is 5d ahead of this machine's/);
    assert.equal(status.stderr.match(/clock is/g)?.length, 1, "the skew is warned about once");
    check = await run(["check", "--config", "ftr.yaml", "--json"]);
    assert.equal(check.code, 1);
    assert.deepEqual(
      (JSON.parse(check.stdout) as CheckResult).findings.map((f) => f.reason),
      ["expiring"],
    );
    let plan = await run(["plan", "--config", "ftr.yaml", "--json"]);
    let planned = (JSON.parse(plan.stdout) as Plan).environments[0]!;
    assert.equal(planned.decision, "due");
    // The new token's expiry counts from the API's now, a year after it.
    const apiNow = Date.parse(await w.admin.now().then((d) => d.toISOString()));
    assert.ok(Math.abs(Date.parse(planned.create.expiresAt) - (apiNow + 365 * DAY_MS)) < 5 * 60_000);

    // Two more days: expired by the API's clock, and the deployed token is refused.
    await w.admin.advanceClock("2d");
    const after = JSON.parse(
      (await run(["status", "--config", "ftr.yaml", "--json"])).stdout,
    ) as StatusReport;
    assert.ok(integrationOf(after).findings.some((f) => f.code === "expired"));
    assert.equal(after.environments[0]?.deployed.status, "dead");
    check = await run(["check", "--config", "ftr.yaml", "--json"]);
    assert.equal(check.code, 1);
    assert.deepEqual(
      (JSON.parse(check.stdout) as CheckResult).findings.map((f) => f.reason),
      ["dead"],
    );
    plan = await run(["plan", "--config", "ftr.yaml", "--json"]);
    planned = (JSON.parse(plan.stdout) as Plan).environments[0]!;
    assert.equal(planned.rotate, true);
    assert.equal(planned.deployed.status, "dead");
  });
});

describe("serve follows the Fastly API's clock", () => {
  let w: World<"fastly">;
  before(async () => {
    w = await world({ dir: "ftr-api-clock-serve-", fastly: seed });
    await w.writeSecret("integration.txt", exporterTokens.integration.token);
  });
  after(() => w.close());

  it("the emulator's clock moved forward turns the token due, then expired and the deployed one dead", async () => {
    const path = await w.writeConfig(`version: 1
fastly: { endpoint: "${w.emulator.url}" }
environments:
  - name: integration
    token:
      name: ${exporterTokens.integration.name}
      services: { nameMatches: "Integration" }
      rotateBefore: 3d
    secret: { type: file, path: ./integration.txt }
`);
    const { config } = await loadConfig(path);
    const client = createFastlyClient({ token: superuser.token, endpoint: w.emulator.url });
    const handle = await startServe({ config, client, listen: "127.0.0.1:0", intervalMs: 3_600_000 });
    const codes = async (): Promise<string[]> => {
      await handle.refresh();
      const metrics = await (await fetch(`${handle.url}/metrics`)).text();
      return [
        ...metrics.matchAll(
          new RegExp(
            `^fastly_automation_token_finding\\{token_id="${exporterTokens.integration.id}"[^}]*code="([^"]+)"`,
            "gm",
          ),
        ),
      ]
        .map((m) => m[1]!)
        .sort();
    };
    const deployed = async (): Promise<string | undefined> =>
      /^fastly_automation_token_deployed\{environment="integration"[^}]*\} (\d)$/m.exec(
        await (await fetch(`${handle.url}/metrics`)).text(),
      )?.[1];
    try {
      assert.deepEqual(await codes(), []);
      await w.admin.advanceClock("5d");
      assert.deepEqual(await codes(), ["expiring"]);
      await w.admin.advanceClock("2d");
      assert.deepEqual(await codes(), ["expired"]);
      assert.equal(await deployed(), "0");
    } finally {
      await handle.close();
    }
  });
});
