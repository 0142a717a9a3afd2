/**
 * Fastly's own JavaScript client (`fastly` 13, generated from the API spec) against the emulator,
 * on today's API and on the recorded 2024-2025 shapes: sudo, an automation token's create (in the
 * `attributes` wrapper this client sends), its get, the calling token, services, and an error.
 * The client hard-codes https://api.fastly.com in every call; a superagent plugin (the client's
 * own extension point) sends the requests to the emulator instead.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import {
  createEmulator,
  demoCredentials,
  demoSeed,
  demoServiceIds,
  type RunningEmulator,
} from "../src/emulator/index.ts";

/** The parts of the client used here (the package ships no types). */
interface HttpInfo {
  readonly response: { readonly status: number; readonly body: Record<string, unknown> };
}
interface FastlyJsError {
  readonly status: number;
  readonly response: { readonly body: Record<string, unknown>; readonly headers: Record<string, string> };
}
interface ApiClient {
  authenticate(token: string): void;
  plugins: ((request: { url: string }) => void)[] | null;
}
interface FastlyJs {
  ApiClient: new () => ApiClient;
  SudoApi: new (client: ApiClient) => { requestSudoAccessWithHttpInfo(o: object): Promise<HttpInfo> };
  TokensApi: new (client: ApiClient) => { getTokenCurrentWithHttpInfo(): Promise<HttpInfo> };
  ServiceApi: new (client: ApiClient) => { listServicesWithHttpInfo(o: object): Promise<HttpInfo> };
  AutomationTokensApi: new (client: ApiClient) => {
    createAutomationTokenWithHttpInfo(o: object): Promise<HttpInfo>;
    getAutomationTokenIdWithHttpInfo(o: { id: string }): Promise<HttpInfo>;
  };
}

const Fastly = createRequire(import.meta.url)("fastly") as FastlyJs;
const { superuser, engineer } = demoCredentials;

function clientFor(url: string, token: string): ApiClient {
  const client = new Fastly.ApiClient();
  client.authenticate(token);
  client.plugins = [
    (request) => {
      request.url = request.url.replace(/^https:\/\/api\.fastly\.com/, url);
    },
  ];
  return client;
}

for (const apiVersion of ["2026", "2025"] as const) {
  describe(`the fastly JS client against the emulator (API ${apiVersion})`, () => {
    let emu: RunningEmulator;
    before(async () => {
      emu = await createEmulator({ seed: demoSeed, apiVersion });
    });
    after(() => emu.close());

    it("sudo, create an automation token, read it back, the calling token and the services", async () => {
      const client = clientFor(emu.url, superuser.token);
      const sudo = await new Fastly.SudoApi(client).requestSudoAccessWithHttpInfo({
        sudo_request: { username: superuser.login, password: superuser.password },
      });
      assert.match(String(sudo.response.body["expiry_time"]), /\+00:00$/);

      const staging = demoServiceIds["www Staging"];
      const created = await new Fastly.AutomationTokensApi(client).createAutomationTokenWithHttpInfo({
        automation_token_create_request: {
          attributes: {
            name: "fastly-js token",
            role: "engineer",
            services: [staging],
            scope: "global:read",
            expires_at: new Date(Date.now() + 30 * 86_400_000),
            tls_access: false,
          },
        },
      });
      assert.equal(created.response.status, 200);
      const body = created.response.body;
      assert.match(String(body["access_token"]), /^[A-Za-z0-9_-]{32}$/);
      // This client sends no limit_services: on today's API its token reaches every service.
      assert.deepEqual(body["services"], apiVersion === "2026" ? [] : [staging]);
      assert.equal("limit_services" in body, apiVersion === "2026");

      const got = await new Fastly.AutomationTokensApi(client).getAutomationTokenIdWithHttpInfo({
        id: String(body["id"]),
      });
      assert.equal(got.response.body["name"], "fastly-js token");
      assert.equal(got.response.body["access_token"], "");

      const current = await new Fastly.TokensApi(client).getTokenCurrentWithHttpInfo();
      assert.equal(current.response.body["id"], superuser.tokenId);
      const services = await new Fastly.ServiceApi(client).listServicesWithHttpInfo({ per_page: 100 });
      assert.ok(Array.isArray(services.response.body));
    });

    it("an error reaches the caller with the status and what the API said", async () => {
      const client = clientFor(emu.url, engineer.token);
      await new Fastly.SudoApi(client).requestSudoAccessWithHttpInfo({
        sudo_request: { username: engineer.login, password: engineer.password },
      });
      const error = await new Fastly.AutomationTokensApi(client)
        .createAutomationTokenWithHttpInfo({
          automation_token_create_request: { attributes: { name: "n", role: "engineer" } },
        })
        .then(
          () => assert.fail("a non-superuser created an automation token"),
          (e: unknown) => e as FastlyJsError,
        );
      assert.equal(error.status, 403);
      const said = error.response.body;
      assert.match(String(apiVersion === "2026" ? said["title"] : said["msg"]), /superusers/);
    });
  });
}
