/**
 * Bad input stops `ftr rotate` before it writes anything: invalid configs of every kind, unknown
 * environments, missing or wrong credentials, a user who may not create automation tokens, an
 * account with forced MFA or SSO, and an approval that cannot be asked for. Each case checks the
 * exit code, that the message names the field or says what to do, and the emulator's request log:
 * no write at all (for config errors: no request at all).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoCredentials, demoSeed, type RequestLogEntry, type Seed } from "../src/emulator/index.ts";
import {
  assertNoSecrets,
  startRotationEnv,
  type ConfigDoc,
  type RotationEnv,
} from "./helpers/rotation-env.ts";
import { USER_AGENT } from "../src/version.ts";

const { superuser, engineer, exporterTokens } = demoCredentials;

/** A config change that makes it invalid, and what the message must name. */
interface BadConfig {
  readonly name: string;
  readonly change: (doc: ConfigDoc) => ConfigDoc | string;
  readonly message: RegExp;
}

const BAD_CONFIGS: readonly BadConfig[] = [
  {
    name: "an unknown key",
    change: (doc) => {
      doc.environments[0]!.token.scopes = "global:read";
      return doc;
    },
    message: /environments\[0\]\.token\.scopes.*(unknown|unrecognized|not a setting|did you mean)/is,
  },
  {
    name: "a misspelt top-level key",
    change: (doc) => ({ ...doc, enviroments: doc.environments }),
    message: /enviroments/,
  },
  {
    name: "a bad duration",
    change: (doc) => {
      (doc.defaults as { token: Record<string, unknown> }).token.expiresIn = "1year";
      return doc;
    },
    message: /defaults\.token\.expiresIn.*invalid duration "1year"/s,
  },
  {
    name: "a duration below one second",
    change: (doc) => {
      doc.environments[0]!.verify![0]!.interval = "500ms";
      return doc;
    },
    message: /environments\[0\]\.verify\[0\]\.interval/,
  },
  {
    name: "a bad regular expression",
    change: (doc) => {
      doc.environments[0]!.token.services = { nameMatches: "[Ii]ntegration(" };
      return doc;
    },
    message: /environments\[0\]\.token\.services\.nameMatches.*not a valid regular expression/s,
  },
  {
    name: "a duplicate environment",
    change: (doc) => {
      doc.environments[1]!.name = doc.environments[0]!.name;
      return doc;
    },
    message: /environments\[1\]\.name.*integration/s,
  },
  {
    name: "the same token name in two environments",
    change: (doc) => {
      doc.environments[1]!.token.name = doc.environments[0]!.token.name;
      return doc;
    },
    message: /environments\[1\]\.token\.name/,
  },
  {
    name: "version 2",
    change: (doc) => ({ ...doc, version: 2 }),
    message: /version.*2 is not supported/s,
  },
  {
    name: "no version",
    change: (doc) => {
      delete doc.version;
      return doc;
    },
    message: /version is required/,
  },
  {
    name: "an unknown secret store type",
    change: (doc) => {
      doc.environments[0]!.secret = { type: "vault", path: "secret/x" };
      return doc;
    },
    message: /environments\[0\]\.secret/,
  },
  {
    name: "an unknown scope",
    change: (doc) => {
      doc.environments[0]!.token.scope = "global:write";
      return doc;
    },
    message: /environments\[0\]\.token\.scope.*unknown scope "global:write"/s,
  },
  {
    name: "rotateBefore not shorter than expiresIn",
    change: (doc) => {
      doc.environments[0]!.token.expiresIn = "30d";
      doc.environments[0]!.token.rotateBefore = "60d";
      return doc;
    },
    message: /environments\[0\]\.token\.rotateBefore/,
  },
  {
    name: "an invalid environment name",
    change: (doc) => {
      doc.environments[0]!.name = "Integration Env";
      return doc;
    },
    message: /environments\[0\]\.name.*invalid environment name/s,
  },
  {
    name: "an empty reload command",
    change: (doc) => {
      doc.environments[0]!.reload = [{ type: "exec", command: [] }];
      return doc;
    },
    message: /environments\[0\]\.reload\[0\]\.command.*the command is empty/s,
  },
  {
    name: "a YAML syntax error",
    change: () => "version: 1\nenvironments:\n  - name: integration\n    token: { name: x\n",
    message: /\d+:\d+/,
  },
];

describe("bad input stops ftr rotate before any write", () => {
  let h: RotationEnv;
  let original: ConfigDoc;

  before(async () => {
    // Nothing here gets far enough to need a consumer.
    h = await startRotationEnv({ exporters: false });
    original = h.config();
  });
  after(async () => {
    await h?.close();
  });

  /** Run `ftr argv` and return what the tool sent to the emulator meanwhile. */
  async function run(argv: string[], env: Record<string, string> = {}) {
    const before = (await h.admin.requests()).length;
    const result = await h.runCli(argv, env);
    // Only the tool's own: the exporter stand-ins ask /tokens/self whenever one (re)starts.
    const requests = (await h.admin.requests())
      .slice(before)
      .filter((r) => r.userAgent?.startsWith(USER_AGENT) === true);
    return { ...result, requests, writes: requests.filter((r) => r.method !== "GET") };
  }

  const rotateArgs = ["rotate", "--config", "ftr.yaml", "--yes"];
  const describeRequests = (requests: readonly RequestLogEntry[]) =>
    requests.map((r) => `${r.method} ${r.path} ${r.status}`).join("\n");

  for (const bad of BAD_CONFIGS) {
    it(`refuses ${bad.name}: exit 2, the field named, no request`, async () => {
      await h.writeConfig(bad.change(h.config()));
      try {
        const { code, stdout, stderr, requests } = await run(rotateArgs);
        assert.equal(code, 2, stdout + stderr);
        assert.match(stderr, /the config is not valid/);
        assert.match(stderr, bad.message);
        assert.equal(stdout, "");
        assert.deepEqual(requests, [], describeRequests(requests));
        // `validate` says the same.
        const validate = await run(["validate", "--config", "ftr.yaml"]);
        assert.equal(validate.code, 2, validate.stdout + validate.stderr);
        assert.match(validate.stdout + validate.stderr, bad.message);
      } finally {
        await h.writeConfig(original);
      }
    });
  }

  it("refuses a selector that matches no service, before any write", {}, async () => {
    const doc = h.config();
    // The last environment, so the ones before it would be rotated if the run started.
    doc.environments[2]!.token.services = { nameMatches: "^nothing-is-called-this$" };
    await h.writeConfig(doc);
    try {
      const { code, stdout, stderr, writes } = await run(rotateArgs);
      assert.equal(code, 2, stdout + stderr);
      assert.match(stdout + stderr, /production/);
      assert.match(stdout + stderr, /no service name matches \/\^nothing-is-called-this\$\//);
      assert.deepEqual(writes, [], describeRequests(writes));
      // Nothing changed.
      for (const env of h.environments) assert.equal(h.readSecret(env), exporterTokens[env].token);
    } finally {
      await h.writeConfig(original);
    }
  });

  it("refuses a secret file whose directory does not exist, before any write", {}, async () => {
    const doc = h.config();
    doc.environments[0]!.secret = { type: "file", path: "./no-such-dir/integration" };
    await h.writeConfig(doc);
    try {
      const { code, stdout, stderr, writes } = await run([...rotateArgs, "--env", "integration"]);
      assert.notEqual(code, 0, stdout + stderr);
      assert.match(stdout + stderr, /no-such-dir/);
      assert.deepEqual(writes, [], describeRequests(writes));
    } finally {
      await h.writeConfig(original);
    }
  });

  it("refuses an unknown --env: exit 2, no write", async () => {
    const { code, stderr, writes } = await run([...rotateArgs, "--env", "nosuch"]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /no environment named "nosuch"; the config has integration, staging, production/);
    assert.deepEqual(writes, []);
    const plan = await run(["plan", "--config", "ftr.yaml", "--env", "nosuch"]);
    assert.equal(plan.code, 2);
  });

  it("refuses to run without FASTLY_API_TOKEN: exit 2, no request", async () => {
    const { code, stderr, requests } = await run(rotateArgs, { FASTLY_API_TOKEN: "" });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /FASTLY_API_TOKEN is not set: export the user token of a Fastly superuser/);
    assert.deepEqual(requests, []);
  });

  it("refuses to run without a sudo password: exit 2, no write", async () => {
    const { code, stderr, writes } = await run(rotateArgs, { FASTLY_SUDO_PASSWORD: "" });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /set FASTLY_SUDO_PASSWORD, pipe it with --password-stdin/);
    assert.deepEqual(writes, []);
  });

  it("stops at a wrong sudo password: exit 1, no write but POST /sudo, says what to do", async () => {
    const { code, stdout, stderr, writes } = await run(rotateArgs, {
      FASTLY_SUDO_PASSWORD: "not-the-password",
    });
    assert.equal(code, 1, stdout + stderr);
    assert.deepEqual(
      writes.map((r) => `${r.method} ${r.path} ${r.status}`),
      ["POST /sudo 403"],
    );
    assert.match(stderr, /POST \/sudo: forbidden/);
    assert.match(stderr, /password is not correct for the user that owns FASTLY_API_TOKEN/);
    assert.doesNotMatch(stdout + stderr, /not-the-password/);
    for (const env of h.environments) assert.equal(h.readSecret(env), exporterTokens[env].token);
  });

  it("stops for a user who is not a superuser: exit 1 (refused), as plan does, no write", async () => {
    const planned = await run(["plan", "--config", "ftr.yaml"], { FASTLY_API_TOKEN: engineer.token });
    assert.equal(planned.code, 1, planned.stderr);
    const { code, stderr, requests, writes } = await run(rotateArgs, {
      FASTLY_API_TOKEN: engineer.token,
      FASTLY_SUDO_PASSWORD: engineer.password,
    });
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /belongs to engineer@example\.com, whose role is engineer: only a superuser can create automation tokens/,
    );
    assert.deepEqual(writes, []);
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.path}`),
      ["GET /current_user"],
    );
  });

  it("stops for an automation token given as FASTLY_API_TOKEN: exit 1 (refused), no write", async () => {
    const { code, stderr, writes } = await run(rotateArgs, {
      FASTLY_API_TOKEN: exporterTokens.integration.token,
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /automation tokens are created with a superuser's user token/);
    assert.deepEqual(writes, []);
  });

  it("asks for approval it cannot get (no terminal, no --yes): exit 2, no write", async () => {
    const { code, stderr, writes } = await run(["rotate", "--config", "ftr.yaml"]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /production need\(s\) approval: run with --yes, or on a terminal to be asked/);
    assert.deepEqual(writes, []);
    // Without the environment that needs approval, no question arises; `plan` is unaffected.
    const plan = await run(["plan", "--config", "ftr.yaml"]);
    assert.equal(plan.code, 0);
  });

  it("printed no token value or password anywhere", () => {
    assertNoSecrets(h.collectOutput(), [
      ...h.knownSecrets(),
      { label: "wrong password", value: "not-the-password" },
    ]);
  });
});

for (const flag of ["mfa", "sso"] as const) {
  describe(`an account with forced ${flag.toUpperCase()}`, () => {
    let h: RotationEnv;
    const seed: Seed = {
      ...demoSeed,
      users: demoSeed.users.map((u) => (u.login === superuser.login ? { ...u, [flag]: true } : u)),
    };

    before(async () => {
      h = await startRotationEnv({ seed, exporters: false, environments: ["integration"] });
    });
    after(async () => {
      await h?.close();
    });

    it("stops with a message and leaves no token behind", async () => {
      const before = await h.liveTokens();
      const { code, stdout, stderr } = await h.runCli(["rotate", "--config", "ftr.yaml", "--yes"]);
      assert.equal(code, 1, stdout + stderr);
      assert.match(stdout + stderr, /forced SSO or MFA/);
      assert.deepEqual(
        (await h.liveTokens()).map((t) => t.id).sort(),
        before.map((t) => t.id).sort(),
        "no token was created, none revoked",
      );
      const writes = (await h.toolRequests()).filter((r) => r.method !== "GET");
      assert.ok(
        writes.every((r) => r.path === "/sudo" || (r.path === "/automation-tokens" && r.status === 403)),
        writes.map((r) => `${r.method} ${r.path} ${r.status}`).join("\n"),
      );
      assert.equal(h.readSecret("integration"), exporterTokens.integration.token);
      assertNoSecrets(h.collectOutput(), h.knownSecrets());
    });
  });
}
