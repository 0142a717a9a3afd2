/**
 * The secrets a config names by environment variable are kept from children like the Fastly ones:
 * `ftr rotate` (a real child process) runs with ARGOCD_AUTH_TOKEN (an argocd reloader's default
 * `tokenEnv`), SLACK_WEBHOOK_URL (`webhookUrlEnv`), FTR_WEBHOOK_SECRET (`signingSecretEnv`) and
 * PROMETHEUS_AUTHORIZATION (a header's `valueFromEnv`) set; an exec reloader and an exec verifier
 * dump their environment, and neither holds a name or a value. The webhook is still signed with
 * the captured key. And `validate` warns about credentials written literally in the config.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../helpers/cli.ts";
import { startNotifyReceiver, type NotifyReceiver } from "../helpers/notify-receiver.ts";
import type { RotationEnv } from "../helpers/rotation-env.ts";
import { world, type World } from "../helpers/world.ts";

const SECRETS = {
  ARGOCD_AUTH_TOKEN: "argocd-token-value-0123456789abcdef",
  FTR_WEBHOOK_SECRET: "webhook-signing-key-0123456789abcdef",
  PROMETHEUS_AUTHORIZATION: "Bearer prometheus-credential-0123456789",
};

describe("security: secrets the config names are kept from children", () => {
  let w: World;
  let h: RotationEnv;
  let receiver: NotifyReceiver;
  let slack: NotifyReceiver;
  let env: Record<string, string>;

  before(async () => {
    receiver = await startNotifyReceiver({ secret: SECRETS.FTR_WEBHOOK_SECRET });
    slack = await startNotifyReceiver();
    env = { ...SECRETS, SLACK_WEBHOOK_URL: `${slack.url}/services/T000/B000/slack-url-secret-part` };
    w = await world({});
    h = await w.startRotationEnv({
      environments: ["integration", "staging"],
      verifyTimeout: "15s",
      verifyInterval: "1s",
      stateDir: "state",
      extraReload: (name) =>
        name === "integration"
          ? [{ type: "exec", command: ["/bin/sh", "-c", "env > reload-env.txt"] }]
          : [{ type: "argocd", server: "https://argocd.example.com", app: "exporter", action: "refresh" }],
      extraVerify: (name) =>
        name === "integration"
          ? [{ type: "exec", command: ["/bin/sh", "-c", "env > verify-env.txt"], timeout: "10s" }]
          : [
              {
                type: "prometheus",
                url: "https://prometheus.example.com",
                headers: { Authorization: { valueFromEnv: "PROMETHEUS_AUTHORIZATION" } },
              },
            ],
      configure: (doc) => {
        doc.notify = [
          { type: "webhook", url: `${receiver.url}/ftr`, signingSecretEnv: "FTR_WEBHOOK_SECRET" },
          { type: "slack", webhookUrlEnv: "SLACK_WEBHOOK_URL" },
        ];
      },
    });
  });
  after(async () => {
    await receiver?.close();
    await slack?.close();
    await w?.close();
  });

  it("an exec reloader and verifier see none of them during rotate; the webhook is still signed", async () => {
    const result = await h.runCliProcess(
      ["rotate", "--config", h.configPath, "--env", "integration", "--yes", "--force"],
      env,
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const file of ["reload-env.txt", "verify-env.txt"]) {
      const path = join(h.dir, file);
      assert.ok(existsSync(path), `${file} was written`);
      const text = readFileSync(path, "utf8");
      assert.ok(text.includes("PATH="), `${file} holds an environment`);
      for (const [name, value] of Object.entries(env)) {
        assert.ok(!text.includes(`${name}=`), `${file}: ${name} was inherited`);
        assert.ok(!text.includes(value), `${file}: the value of ${name} was inherited`);
      }
    }
    assert.ok(receiver.requests.length > 0, "the webhook got the events");
    assert.ok(
      receiver.requests.every((r) => r.verified === true),
      "signed with the key captured at start",
    );
    assert.ok(slack.requests.length > 0, "slack got the events");
  });

  it("validate warns about a credential written literally, and a password in a URL", async () => {
    const doc = h.config();
    const [, staging] = doc.environments;
    staging!.verify = [
      {
        type: "prometheus",
        url: "https://scraper:hunter2@prometheus.example.com",
        headers: { Authorization: "Bearer literal-credential", "X-Scope-OrgID": "monitoring" },
      },
    ];
    doc.notify = [{ type: "webhook", url: `${receiver.url}/ftr`, headers: { "X-Api-Key": "literal-key" } }];
    await h.writeConfig(doc);
    const { code, stdout } = await runCli(["validate", "--config", h.configPath], { cwd: h.dir });
    assert.equal(code, 0, stdout);
    assert.match(
      stdout,
      /environments\[1\]\.verify\[0\]\.headers\.Authorization: a credential is written in the config; read it from the environment instead/,
    );
    assert.match(stdout, /environments\[1\]\.verify\[0\]\.url: the URL holds a password/);
    assert.match(stdout, /notify\[0\]\.headers\.X-Api-Key: a credential is written in the config/);
    assert.doesNotMatch(stdout, /X-Scope-OrgID: a credential/);
  });
});
