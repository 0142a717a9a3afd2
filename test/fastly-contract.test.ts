/**
 * The client's contract suite: the same cases run against the emulator always, and against the real
 * Fastly API when FASTLY_CONTRACT_TOKEN is set (read-only cases; the create/revoke cases also need
 * FASTLY_CONTRACT_PASSWORD, the sudo password of that token's superuser).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createEmulator, createEmulatorAdmin, demoCredentials, demoSeed } from "../src/emulator/index.ts";
import {
  createFastlyClient,
  FastlyAuthError,
  FastlyForbiddenError,
  FastlyNotFoundError,
  type FastlyClient,
} from "../src/fastly/index.ts";

interface Backend {
  client: FastlyClient;
  endpoint: string;
  password?: string;
  close(): Promise<void>;
}

function contractSuite(name: string, setup: () => Promise<Backend | undefined>): void {
  describe(`Fastly client contract: ${name}`, () => {
    let backend: Backend | undefined;
    before(async () => {
      backend = await setup();
    });
    after(async () => {
      await backend?.close();
    });
    const it = (title: string, fn: (b: Backend) => Promise<void>, needsPassword = false): void =>
      void test(title, async (t) => {
        if (!backend) return t.skip(`${name}: not configured`);
        if (needsPassword && !backend.password) return t.skip("needs FASTLY_CONTRACT_PASSWORD");
        await fn(backend);
      });

    it("current user has an id, login, role and customer", async ({ client }) => {
      const user = await client.getCurrentUser();
      assert.ok(user.id.length > 0);
      assert.ok(["user", "billing", "engineer", "superuser"].includes(user.role));
      assert.ok(user.customerId.length > 0);
    });

    it("tokens/self describes the token in use", async ({ client }) => {
      const self = await client.getTokenSelf();
      assert.ok(self.id.length > 0);
      assert.ok(self.scopes.length > 0);
      assert.ok(Array.isArray(self.services));
    });

    it("every automation token parses, with scopes as an array", async ({ client }) => {
      const tokens = await client.listAutomationTokens({ perPage: 2 });
      for (const t of tokens) {
        assert.ok(t.id.length > 0);
        assert.ok(Array.isArray(t.scopes));
        assert.ok(Array.isArray(t.services));
        if (t.expiresAt) assert.ok(!Number.isNaN(t.expiresAt.getTime()));
      }
      assert.equal(new Set(tokens.map((t) => t.id)).size, tokens.length, "no token listed twice");
    });

    it("services list follows Link pagination and agrees with get and search", async ({ client }) => {
      const small = await client.listServices({ perPage: 2 });
      const big = await client.listServices();
      assert.deepEqual(small.map((s) => s.id).sort(), big.map((s) => s.id).sort());
      const first = big[0];
      if (first) {
        assert.equal((await client.getService(first.id)).name, first.name);
        assert.equal((await client.searchService(first.name)).id, first.id);
      }
    });

    it("an unknown token is refused with an authentication error", async ({ endpoint }) => {
      const stranger = createFastlyClient({ token: "NotARealTokenValue0000000000000", endpoint });
      await assert.rejects(stranger.getTokenSelf(), FastlyAuthError);
    });

    it("a missing automation token is not found", async ({ client }) => {
      await assert.rejects(client.getAutomationToken("0000000000000000000000"), FastlyNotFoundError);
    });

    it(
      "create without sudo is refused as sudo-required; with sudo it works, and revoke kills it",
      async ({ client, endpoint, password }) => {
        const services = (await client.listServices()).slice(0, 1).map((s) => s.id);
        const input = {
          name: `ftr contract ${Date.now()}`,
          role: "engineer" as const,
          scope: "global:read",
          services,
          expiresAt: new Date(Date.now() + 86_400_000),
        };
        if (endpoint !== "https://api.fastly.com") {
          await assert.rejects(
            client.createAutomationToken(input),
            (e: unknown) => e instanceof FastlyForbiddenError && e.reason === "sudo-required",
          );
        }
        await client.sudo({ password: password as string });
        const created = await client.createAutomationToken(input);
        try {
          const asNew = createFastlyClient({ token: created.accessToken, endpoint });
          const self = await asNew.getTokenSelf();
          assert.equal(self.id, created.id);
          assert.deepEqual(self.scopes, ["global:read"]);
          assert.deepEqual(self.services, services);
          const listed = (await client.listAutomationTokens()).find((t) => t.id === created.id);
          assert.equal(listed?.name, input.name);
        } finally {
          await client.revokeToken(created.id);
        }
        const asRevoked = createFastlyClient({ token: created.accessToken, endpoint });
        await assert.rejects(asRevoked.getTokenSelf(), FastlyAuthError);
      },
      true,
    );
  });
}

contractSuite("emulator", async () => {
  const emulator = await createEmulator({ seed: demoSeed });
  createEmulatorAdmin(emulator.url);
  return {
    client: createFastlyClient({ token: demoCredentials.superuser.token, endpoint: emulator.url }),
    endpoint: emulator.url,
    password: demoCredentials.superuser.password,
    close: () => emulator.close(),
  };
});

const realToken = process.env.FASTLY_CONTRACT_TOKEN;
if (!realToken) {
  console.log("# Fastly client contract against the real API: skipped (set FASTLY_CONTRACT_TOKEN to run it)");
}
contractSuite("real Fastly API", async () => {
  if (!realToken) return undefined;
  const endpoint = process.env.FASTLY_API_ENDPOINT || "https://api.fastly.com";
  const password = process.env.FASTLY_CONTRACT_PASSWORD;
  return {
    client: createFastlyClient({ token: realToken, endpoint }),
    endpoint,
    ...(password ? { password } : {}),
    close: () => Promise.resolve(),
  };
});
