/**
 * What `ftr check`, `ftr status` and `ftr validate` load: the command line (src/ through tsx, as
 * the bundle splits it the same way) runs with a module hook that records every module it
 * resolves (and, at exit, every CommonJS module required), so a static import that brings back the
 * metrics stack, the Kubernetes client, the rotation protocol or re2js fails here rather than only
 * in a benchmark's figures.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { createEmulator, demoCredentials, type RunningEmulator } from "../src/emulator/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Registers a resolve hook that appends each resolved URL to the file FTR_RECORD_IMPORTS names. */
const HOOKS = `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.FTR_RECORD_IMPORTS, result.url + "\\n");
  return result;
}
`;

describe("modules loaded at start-up", () => {
  let dir: string;
  let emulator: RunningEmulator;
  let register: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ftr-startup-imports-"));
    emulator = await createEmulator();
    await writeFile(join(dir, "hooks.mjs"), HOOKS);
    register = join(dir, "register.mjs");
    await writeFile(
      register,
      [
        `import { appendFileSync } from "node:fs";`,
        `import { createRequire, register } from "node:module";`,
        `import { pathToFileURL } from "node:url";`,
        `register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});`,
        // CommonJS modules loaded with require() (re2js is) do not pass the resolve hook.
        `const cache = createRequire(import.meta.url).cache;`,
        `process.on("exit", () => appendFileSync(process.env.FTR_RECORD_IMPORTS, Object.keys(cache).map((f) => pathToFileURL(f).href + "\\n").join("")));`,
        // Node's bundled undici (behind fetch, Response and Headers) is an internal module: record it.
        `process.on("exit", () => { if (process.moduleLoadList.includes("NativeModule internal/deps/undici/undici")) appendFileSync(process.env.FTR_RECORD_IMPORTS, "node:internal/deps/undici\\n"); });`,
        // Node's own fetch (its bundled undici) is not a module either: record its use.
        `const globalFetch = globalThis.fetch;`,
        `globalThis.fetch = (...args) => (appendFileSync(process.env.FTR_RECORD_IMPORTS, "node:fetch\\n"), globalFetch(...args));`,
        "",
      ].join("\n"),
    );
    const integration = demoCredentials.exporterTokens.integration;
    await writeFile(join(dir, "integration.txt"), `${integration.token}\n`, { mode: 0o600 });
    await writeFile(
      join(dir, "ftr.yaml"),
      [
        "version: 1",
        `fastly: { endpoint: "${emulator.url}" }`,
        "environments:",
        "  - name: integration",
        `    token: { name: "${integration.name}", services: { nameMatches: "ntegration" } }`,
        "    secret: { type: file, path: ./integration.txt }",
        "    reload: [{ type: exec, command: [./restart.sh] }]",
        "    verify: [{ type: token-in-use }]",
        "",
      ].join("\n"),
    );
  });

  after(async () => {
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Run `ftr args` in `cwd` with `home` as HOME and no credential; the URLs it resolved. */
  const loaded = async (name: string, args: readonly string[], home: string): Promise<string[]> => {
    const record = join(dir, `${name}.txt`);
    await writeFile(record, "");
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          "--import",
          import.meta.resolve("tsx"),
          "--import",
          pathToFileURL(register).href,
          join(root, "src/cli/bin.ts"),
          ...args,
        ],
        {
          cwd: dir,
          env: { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", FTR_RECORD_IMPORTS: record },
        },
        (error, out) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: out }),
      );
    });
    // check exits 1 when a token is due (the demo's expire within a month); 2 would be a usage error.
    assert.ok(code === 0 || code === 1, `ftr ${args.join(" ")} exited ${code}`);
    assert.notEqual(stdout, "", `ftr ${args.join(" ")} printed nothing`);
    const urls = (await readFile(record, "utf8")).split("\n").filter((line) => line !== "");
    // The hook saw the command line's own modules: the record is not empty by accident.
    assert.ok(
      urls.some((url) => url.includes("/src/config/")),
      "the hook recorded no config module",
    );
    return urls;
  };

  const metricsStack = /\/node_modules\/(prom-client|@opentelemetry)\//;
  const kubernetesClient = /\/node_modules\/@kubernetes\/client-node\//;

  it("check without a credential loads neither prom-client, @opentelemetry, serve nor undici", async () => {
    const urls = await loaded("check", ["check", "--config", "ftr.yaml"], dir);
    assert.deepEqual(
      urls.filter((url) => metricsStack.test(url) || url.endsWith("/src/monitor/serve.ts")),
      [],
    );
    // A direct request to an address (no proxy, no name to resolve) goes over Node's http module:
    // the undici package (about 700 KB of JavaScript and a WebAssembly parser) stays unloaded.
    assert.deepEqual(
      urls.filter((url) => /\/node_modules\/undici\//.test(url)),
      [],
    );
    // So does Node's own fetch (its bundled undici: about 2x a bare node start-up in CPU).
    assert.ok(!urls.includes("node:fetch"), "check called Node's fetch");
    // And Node's bundled undici itself: touching Response or Headers loads it (about half a bare
    // node start-up), so the client's answers are its own small type.
    assert.ok(!urls.includes("node:internal/deps/undici"), "check loaded Node's bundled undici");
    assert.ok(urls.includes("node:http"), "check did not load node:http");
    // It did ask the API: the status module ran.
    assert.ok(urls.some((url) => url.endsWith("/src/monitor/status.ts")));
  });

  it("the record notes Node's bundled undici when Headers is touched", async () => {
    const record = join(dir, "headers.txt");
    await writeFile(record, "");
    const failed = await new Promise<Error | null>((resolve) => {
      execFile(
        process.execPath,
        ["--import", pathToFileURL(register).href, "-e", "new Headers()"],
        { env: { PATH: process.env.PATH ?? "", FTR_RECORD_IMPORTS: record } },
        (error) => resolve(error),
      );
    });
    assert.equal(failed, null);
    assert.ok((await readFile(record, "utf8")).split("\n").includes("node:internal/deps/undici"));
  });

  it("check reads the journal without the rotation protocol, draws no table, and answers literal patterns without re2js", async () => {
    const urls = await loaded("check-lean", ["check", "--config", "ftr.yaml"], dir);
    assert.ok(urls.some((url) => url.endsWith("/src/rotation/unfinished.ts")));
    assert.deepEqual(
      urls.filter(
        (url) =>
          /\/src\/rotation\/(rotate|resume|steps)\.ts$/.test(url) ||
          url.endsWith("/src/monitor/render.ts") ||
          url.endsWith("/src/util/fit.ts") ||
          /\/node_modules\/(string-width|wrap-ansi|emoji-regex|re2js)\//.test(url),
      ),
      [],
    );
  });

  it("status loads neither prom-client nor @opentelemetry", async () => {
    const urls = await loaded("status", ["status", "--config", "ftr.yaml"], dir);
    assert.deepEqual(
      urls.filter((url) => metricsStack.test(url)),
      [],
    );
    // It draws its table: the renderer is loaded when it is used.
    assert.ok(urls.some((url) => url.endsWith("/src/monitor/render.ts")));
  });

  it("validate loads the Kubernetes client only when there is a kubeconfig to read", async () => {
    const govuk = join(root, "examples/govuk.yaml");
    const without = await loaded("validate", ["validate", "--config", govuk], dir);
    assert.deepEqual(
      without.filter((url) => kubernetesClient.test(url)),
      [],
    );
    // Nor, piped, the terminal fitting; nor the Fastly client (no token.roles to look up); nor
    // RE2: govuk.yaml's patterns are simple character classes, run as RegExps.
    assert.deepEqual(
      without.filter(
        (url) =>
          url.endsWith("/src/util/fit.ts") ||
          url.endsWith("/src/fastly/client.ts") ||
          url.endsWith("/src/adapters/support/kubernetes.ts") ||
          /\/node_modules\/(string-width|wrap-ansi|re2js)\//.test(url),
      ),
      [],
    );
    assert.ok(without.some((url) => url.endsWith("/src/adapters/support/kubeconfig-warnings.ts")));
    // With ~/.kube/config present the client reads it, to warn about insecure clusters.
    const home = join(dir, "home");
    await mkdir(join(home, ".kube"), { recursive: true });
    await writeFile(
      join(home, ".kube", "config"),
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{ name: c, cluster: { server: 'https://k8s.example.com' } }]",
        "users: [{ name: u, user: { token: x } }]",
        "contexts: [{ name: integration, context: { cluster: c, user: u } }]",
        "current-context: integration",
        "",
      ].join("\n"),
    );
    const withConfig = await loaded("validate-kube", ["validate", "--config", govuk], home);
    assert.ok(withConfig.some((url) => kubernetesClient.test(url)));
  });

  it("validate loads RE2 for a pattern with repetition", async () => {
    await writeFile(
      join(dir, "repeat.yaml"),
      (await readFile(join(dir, "ftr.yaml"), "utf8")).replace(
        'nameMatches: "ntegration"',
        'nameMatches: "^integ.*n$"',
      ),
    );
    const urls = await loaded("validate-re2", ["validate", "--config", "repeat.yaml"], dir);
    // Loaded with require(): this also shows the record holds CommonJS modules, which the other
    // tests look for in vain.
    assert.ok(urls.some((url) => /\/node_modules\/re2js\//.test(url)));
  });
});
