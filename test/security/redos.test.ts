/**
 * A service selector cannot hang `plan`: `nameMatches: "^(\\w+\\s?)*$"` backtracks exponentially in
 * a JavaScript RegExp on `"www integration aaaa…a!"`; compiled as RE2 it matches 10,000 service names
 * in linear time. Patterns RE2 cannot run (backreferences, lookaround) are refused by `validate`,
 * naming the field.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { demoCredentials } from "../../src/emulator/index.ts";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { demoFileEnvironment, demoSeedWith, fileConfig, world, type World } from "../helpers/world.ts";

const { superuser, exporterTokens } = demoCredentials;
const SERVICES = 10_000;
// Not a budget: a backtracking engine would never finish, so this only stops a hang; how long the
// plan takes is printed, and measured in bench/.
const BOUND_MS = 300_000;

const config = (endpoint: string, nameMatches: string) =>
  fileConfig(endpoint, [
    demoFileEnvironment("integration", `{ nameMatches: ${JSON.stringify(nameMatches)} }`),
  ]);

describe("security: ReDoS in nameMatches", () => {
  let w: World<"fastly">;

  before(async () => {
    const services = Array.from({ length: SERVICES - 1 }, (_, i) => ({
      name: `service${String(i).padStart(5, "0")} integration`,
      version: 1,
      createdAt: "-1d",
    }));
    services.push({ name: `www integration ${"a".repeat(30)}!`, version: 1, createdAt: "-1d" });
    w = await world({
      dir: "ftr-redos-",
      fastly: demoSeedWith({ services }),
    });
    await w.writeSecret("integration.txt", exporterTokens.integration.token + "\n");
  });

  after(() => w.close());

  it(`plan over ${SERVICES} names with ^(\\w+\\s?)*$ finishes`, async () => {
    await w.writeConfig(config(w.emulator.url, "^(\\w+\\s?)*$"));
    const started = Date.now();
    // A child process, so a hang is killed at the bound rather than blocking the test runner.
    const child = spawnCli(["plan", "--config", "ftr.yaml", "--json"], {
      cwd: w.dir,
      env: { FASTLY_API_TOKEN: superuser.token },
    });
    const timer = setTimeout(() => child.child.kill("SIGKILL"), BOUND_MS);
    const result = await child.done.finally(() => clearTimeout(timer));
    const took = Date.now() - started;
    process.stdout.write(`# plan over ${SERVICES} services took ${took} ms\n`);
    assert.equal(result.signal, null, `plan was killed after ${took} ms: it did not finish`);
    assert.equal(result.code, 0, result.stderr);
    const plan = JSON.parse(result.stdout) as { environments: { services: { name: string }[] }[] };
    // Every name but the one ending in "!" matches.
    assert.equal(
      plan.environments[0]?.services.filter((s) => s.name.includes("integration")).length,
      SERVICES - 1,
    );
  });

  for (const [what, pattern] of [
    ["a backreference", "(www) \\1"],
    ["a lookahead", "integration(?!-old)"],
  ] as const) {
    it(`validate refuses ${what}, naming the field`, async () => {
      await w.writeConfig(config(w.emulator.url, pattern), "bad.yaml");
      const { code, stdout } = await runCli(["validate", "--config", "bad.yaml"], { cwd: w.dir });
      assert.equal(code, 2);
      assert.match(
        stdout,
        /environments\[0\]\.token\.services\.nameMatches: not a valid regular expression \(.*\): service patterns use RE2 syntax/,
      );
      assert.match(stdout, /no backreferences or lookaround/);
    });
  }
});
