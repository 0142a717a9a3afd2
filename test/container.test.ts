/**
 * The Containerfile builds, and the image runs `ftr` as its non-root user with a read-only root
 * filesystem (writable: the state volume and /tmp only): `ftr --help`, then `ftr check` against the
 * emulator on the host.
 *
 * Built with Debian's buildah (`--isolation chroot`: no daemon) from a local base image, because the
 * registry's node image cannot be pulled everywhere: a Debian bookworm tree from mmdebstrap plus the
 * host's own `node` and npm. Debian bookworm's nodejs is 18 and the project needs 20 or newer, so the
 * host's node binary is copied in rather than installed from Debian. The base is kept in buildah's
 * store (tagged with the node version) and the build uses `--layers`, so later runs reuse both.
 *
 * The image is run without a container runtime: `buildah mount` gives its root filesystem, which is
 * bind-mounted read-only in a private mount namespace (`unshare -m`), with tmpfs on /tmp and the state
 * volume, and `chroot --userspec=10001:10001` runs ftr there. chroot shares the host's network, so the
 * emulator listens on the host's 127.0.0.1.
 *
 * Needs root, buildah, mmdebstrap, unshare, a Debian mirror and the npm registry. Skips, saying why,
 * where those are missing or the builder cannot run; under CI=true it runs whenever the tools exist and
 * a failure is a failure.
 */
import assert from "node:assert/strict";
import { execFile, type ExecFileException } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { createEmulator, demoCredentials, demoSeed, type RunningEmulator } from "../src/emulator/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CI = process.env.CI === "true";
const IMAGE = "localhost/fastly-token-rotator:test";
const BASE = `localhost/ftr-test-base:bookworm-node${process.versions.node}`;
const UID = "10001";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command without a shell; never throws for a non-zero exit (the caller judges). */
function run(
  file: string,
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
        env: options.env ?? process.env,
      },
      (error: ExecFileException | null, stdout: string, stderr: string) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({
          code,
          stdout,
          stderr: error !== null && code === 1 && stderr === "" ? error.message : stderr,
        });
      },
    );
  });
}

async function must(file: string, args: string[], timeoutMs?: number): Promise<string> {
  const ran = await run(file, args, timeoutMs === undefined ? {} : { timeoutMs });
  assert.equal(ran.code, 0, `${file} ${args.join(" ")} exited ${ran.code}:\n${ran.stderr.slice(-4000)}`);
  return ran.stdout.trim();
}

async function onPath(name: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${name}`])).code === 0;
}

/** Why the test cannot run here, or undefined when it can. */
async function blocker(): Promise<string | undefined> {
  for (const tool of ["buildah", "mmdebstrap", "unshare", "chroot"]) {
    if (await onPath(tool)) continue;
    const missing = `${tool} is not installed (apt-get install buildah mmdebstrap)`;
    // .ci/run installs them: under CI=true a missing one fails rather than skips.
    if (CI) throw new Error(`CI=true: ${missing}`);
    return missing;
  }
  if (CI) return undefined;
  if (process.getuid?.() !== 0) return "buildah --isolation chroot and chroot need root";
  const probe = await run("buildah", ["from", "scratch"]);
  if (probe.code !== 0)
    return `buildah cannot create a container here: ${probe.stderr.trim().split("\n").at(-1)}`;
  await run("buildah", ["rm", probe.stdout.trim()]);
  return undefined;
}

const skip = await blocker();

/** The base image: Debian bookworm (mmdebstrap) with the host's node and npm; built once, then reused. */
async function ensureBase(work: string): Promise<void> {
  if ((await run("buildah", ["inspect", "--type", "image", BASE])).code === 0) return;
  const tarball = join(work, "bookworm.tar");
  await must(
    "mmdebstrap",
    ["--variant=minbase", "--include=ca-certificates", "bookworm", tarball],
    10 * 60_000,
  );
  const ctr = await must("buildah", ["from", "scratch"]);
  try {
    await must("buildah", ["add", ctr, tarball, "/"], 5 * 60_000);
    await must("buildah", ["copy", "--chmod", "0755", ctr, process.execPath, "/usr/local/bin/node"]);
    // npm as the host runs it: <prefix>/lib/node_modules/npm, found from the npm on PATH.
    const npmCli = await realpath(await must("sh", ["-c", "command -v npm"]));
    const npmDir = dirname(dirname(npmCli));
    await must("buildah", ["copy", ctr, npmDir, "/usr/local/lib/node_modules/npm"], 5 * 60_000);
    await must("buildah", [
      "run",
      "--isolation",
      "chroot",
      ctr,
      "--",
      "ln",
      "-s",
      "../lib/node_modules/npm/bin/npm-cli.js",
      "/usr/local/bin/npm",
    ]);
    // Where the host reaches the npm registry through a TLS-inspecting proxy, node trusts the extra
    // CA only through NODE_EXTRA_CA_CERTS: give the base the same file and variable.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    if (extraCa !== undefined && extraCa !== "") {
      await must("buildah", ["copy", ctr, extraCa, "/usr/local/share/ftr-test-extra-ca.crt"]);
      await must("buildah", [
        "config",
        "--env",
        "NODE_EXTRA_CA_CERTS=/usr/local/share/ftr-test-extra-ca.crt",
        ctr,
      ]);
    }
    await must("buildah", ["run", "--isolation", "chroot", ctr, "--", "node", "--version"]);
    await must("buildah", ["commit", "--quiet", ctr, BASE], 5 * 60_000);
  } finally {
    await run("buildah", ["rm", ctr]);
  }
}

describe("Containerfile", { skip: skip ?? false, timeout: 30 * 60_000 }, () => {
  let work: string;
  let ctr = "";
  let mnt = "";
  let emulator: RunningEmulator | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "ftr-container-"));
  });

  after(async () => {
    await emulator?.close();
    if (ctr !== "") {
      await run("buildah", ["umount", ctr]);
      await run("buildah", ["rm", ctr]);
    }
    await rm(work, { recursive: true, force: true });
  });

  it("builds from a local base", { timeout: 25 * 60_000 }, async (t) => {
    let started = Date.now();
    await ensureBase(work);
    const baseSeconds = (Date.now() - started) / 1000;
    started = Date.now();
    await must(
      "buildah",
      [
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        "--build-arg",
        `BASE=${BASE}`,
        "-f",
        "Containerfile",
        "-t",
        IMAGE,
        ".",
      ],
      20 * 60_000,
    );
    const buildSeconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `base image ${baseSeconds.toFixed(0)} s (0 when cached), buildah bud ${buildSeconds.toFixed(0)} s`,
    );

    const inspected = JSON.parse(await must("buildah", ["inspect", "--type", "image", IMAGE])) as {
      OCIv1: { config: { User?: string; Entrypoint?: string[]; Volumes?: Record<string, unknown> } };
    };
    const config = inspected.OCIv1.config;
    assert.equal(config.User, `${UID}:${UID}`);
    assert.deepEqual(config.Entrypoint, ["ftr"]);
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ["/var/lib/ftr"]);

    ctr = await must("buildah", ["from", IMAGE]);
    mnt = await must("buildah", ["mount", ctr]);
  });

  /**
   * Run ftr in the image's root filesystem as the image's user: the root read-only, tmpfs on /tmp and
   * the state volume (owned by the user, as a volume mount would be), /dev/null and /proc from the host.
   */
  const ftr = (args: string[], env: Record<string, string> = {}): Promise<Ran> => {
    assert.notEqual(mnt, "", "the image was not built");
    const script = [
      "set -e",
      'mount --bind "$1" "$1"',
      'mount -t tmpfs -o mode=1777 tmpfs "$1/tmp"',
      `mount -t tmpfs -o mode=0700,uid=${UID},gid=${UID} tmpfs "$1/var/lib/ftr"`,
      'mount -t proc proc "$1/proc"',
      'touch "$1/dev/null" && mount --bind /dev/null "$1/dev/null"',
      'mount -o remount,bind,ro "$1"',
      'root="$1"; shift',
      `exec chroot --userspec=${UID}:${UID} "$root" "$@"`,
    ].join("\n");
    return run(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", script, "sh", mnt, "/usr/local/bin/ftr", ...args],
      // The image's environment, as a runtime would set it, and nothing of the host's.
      {
        env: {
          PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          HOME: "/tmp",
          NODE_ENV: "production",
          ...env,
        },
        timeoutMs: 120_000,
      },
    );
  };

  it("runs `ftr --help` as uid 10001 on a read-only root", async () => {
    const { code, stdout, stderr } = await ftr(["--help"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /rotate/);
    assert.match(stdout, /check/);
  });

  it("runs `ftr check` against the emulator on the host, journaling nothing outside the volume", async () => {
    assert.notEqual(mnt, "", "the image was not built");
    emulator = await createEmulator({ seed: demoSeed });
    const { superuser, exporterTokens } = demoCredentials;
    // The config and the deployed token go into the container's own layer (removed afterwards), read
    // only at run time, as a ConfigMap and a Secret would be mounted.
    await mkdir(join(mnt, "etc/ftr/deployed"), { recursive: true });
    let envs = "";
    for (const name of ["integration", "staging", "production"] as const) {
      await writeFile(join(mnt, `etc/ftr/deployed/${name}`), exporterTokens[name].token + "\n", {
        mode: 0o644,
      });
      envs += `
  - name: ${name}
    token: { name: "${exporterTokens[name].name}", services: { nameMatches: "${name.slice(1)}" } }
    secret: { type: file, path: /etc/ftr/deployed/${name} }
    verify: [{ type: token-in-use }]`;
    }
    await writeFile(
      join(mnt, "etc/ftr/ftr.yaml"),
      `version: 1
fastly: { endpoint: "${emulator.url}" }
state: { dir: /var/lib/ftr/state }
defaults: { token: { expiresIn: 365d, rotateBefore: 5d } }
environments:${envs}
`,
    );
    const { code, stdout, stderr } = await ftr(["check", "--config", "/etc/ftr/ftr.yaml"], {
      FASTLY_API_TOKEN: superuser.token,
    });
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /^OK 3 environment\(s\), 3 token\(s\) checked: nothing due/);
    for (const secret of [superuser.token, ...Object.values(exporterTokens).map((t) => t.token)]) {
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), "a token value appears in the output");
    }
  });
});
