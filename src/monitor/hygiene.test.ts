import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../config/parse.ts";
import type { AutomationToken } from "../fastly/types.ts";
import { hygieneFindings, reachesAllServices, type HygieneContext } from "./hygiene.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-12-01T00:00:00Z");
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

const { config } = parseConfig(
  `version: 1
policy: { unusedAfter: 30d, maxLifetime: 100d }
environments:
  - name: ci
    token: { name: ci token, services: { ids: [s1] }, roles: [engineer] }
    secret: { type: file, path: ./ci.txt }
`,
  { baseDir: "/srv/ftr" },
);
const env = config!.environments[0]!;

const ctx = (over: Partial<HygieneContext> = {}): HygieneContext => ({
  now: NOW,
  policy: config!.policy,
  account: true,
  userIds: new Set(["u1"]),
  services: [
    { id: "s1", name: "www" },
    { id: "s2", name: "assets" },
  ],
  rotateCommand: (name, force) => `ftr rotate --env ${name}${force ? " --force" : ""}`,
  ...over,
});

/** A token; a field given as undefined is left out (never used, never expires). */
const token = (
  over: { [K in keyof AutomationToken]?: AutomationToken[K] | undefined } = {},
): AutomationToken =>
  Object.fromEntries(
    Object.entries({
      id: "t1",
      name: "some token",
      role: "engineer",
      scopes: ["global:read"],
      services: ["s1"],
      limitServices: true,
      createdAt: ago(10),
      expiresAt: new Date(NOW.getTime() + 50 * DAY),
      lastUsedAt: ago(1),
      creatorId: "u1",
      ...over,
    }).filter(([, v]) => v !== undefined),
  ) as unknown as AutomationToken;

const codes = (t: AutomationToken, c = ctx(), e: typeof env | undefined = undefined) =>
  hygieneFindings(t, e, c)
    .map((f) => f.code)
    .sort();

describe("hygiene findings", () => {
  it("unused follows policy.unusedAfter: exactly that long is fine, longer is a finding", () => {
    assert.deepEqual(codes(token({ lastUsedAt: ago(30) })), ["unmanaged"]);
    assert.deepEqual(codes(token({ lastUsedAt: new Date(ago(30).getTime() - 1000) })), [
      "unmanaged",
      "unused",
    ]);
    assert.deepEqual(codes(token({ lastUsedAt: undefined, createdAt: ago(20) })), [
      "never-used",
      "unmanaged",
    ]);
    assert.deepEqual(codes(token({ lastUsedAt: undefined, createdAt: ago(31) })), ["unmanaged", "unused"]);
  });

  it("lifetime over policy.maxLifetime, and no expiry at all", () => {
    assert.deepEqual(codes(token({ createdAt: ago(10), expiresAt: new Date(NOW.getTime() + 90 * DAY) })), [
      "unmanaged",
    ]);
    assert.deepEqual(codes(token({ createdAt: ago(10), expiresAt: new Date(NOW.getTime() + 91 * DAY) })), [
      "over-max-lifetime",
      "unmanaged",
    ]);
    assert.deepEqual(codes(token({ expiresAt: undefined })), ["never-expires", "unmanaged"]);
  });

  it("last use and creators are not judged without the account's listing", () => {
    const t = token({ lastUsedAt: ago(300), creatorId: "gone" });
    assert.deepEqual(codes(t), ["creator-gone", "unmanaged", "unused"]);
    assert.deepEqual(codes(t, ctx({ account: false })), []);
    assert.deepEqual(codes(t, ctx({ userIds: undefined })), ["unmanaged", "unused"]);
  });

  it("a managed token is judged against its environment: services beyond the selector, global, roles", () => {
    assert.deepEqual(codes(token(), ctx(), env), []);
    const [broader] = hygieneFindings(
      token({
        services: ["s1", "s2"],
        scopes: ["global"],
        roles: [
          { id: "r1", name: "engineer" },
          { id: "r2", name: "billing" },
        ],
      }),
      env,
      ctx(),
    );
    assert.equal(broader?.code, "broader-than-config");
    assert.equal(
      broader?.message,
      "broader than ci's config: also reaches s2; has the global scope, the config asks for global:read; has role billing beyond the config's",
    );
    assert.equal(
      broader?.fix,
      "ftr rotate --env ci --force (mints one exactly as configured and revokes this one)",
    );
    // limit_services false reaches every service whatever `services` lists.
    assert.match(
      hygieneFindings(token({ limitServices: false }), env, ctx())[0]?.message ?? "",
      /reaches every service, the config asks for 1/,
    );
  });

  it("every service: limit_services false, or (before 2026) no services", () => {
    assert.equal(reachesAllServices({ services: ["s1"], limitServices: false }), true);
    assert.equal(reachesAllServices({ services: [], limitServices: true }), false);
    assert.equal(reachesAllServices({ services: [] }), true);
    assert.equal(reachesAllServices({ services: ["s1"] }), false);
  });
});
