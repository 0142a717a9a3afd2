/**
 * A local server speaking the part of GitHub's REST API the `github-actions` store and the
 * `github-workflow` verifier use: Actions secrets of repositories, deployment environments and
 * organizations (public keys, sealed values, visibility and selected repositories), workflow
 * dispatches and workflow runs. Every request body and every answer is checked against GitHub's
 * official OpenAPI description (`@octokit/openapi`); what does not fit is kept in `violations`,
 * which the tests expect empty. Each target has its own Curve25519 key pair: a written value is
 * opened with the private key (libsodium's `crypto_box_seal_open`), so a test can check that the
 * secret holds the new token.
 *
 * A dispatched workflow "runs" as GitHub Actions would run a deploy job using the secret: it opens
 * the secret it is set to use and makes one Fastly request with it (`GET /service` at the emulator,
 * as the consumer, with its own User-Agent), concluding `success` when Fastly accepts the token.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import sodium from "libsodium-wrappers";
import {
  startFakeHttp,
  type FakeAnswer,
  type FakeFault,
  type FakeRequest,
  type FakeRoute,
} from "./fake-http.ts";

const require = createRequire(import.meta.url);

/** The User-Agent of a workflow run's Fastly request. */
export const WORKFLOW_USER_AGENT = "ftr-test-github-workflow";

type Validator = ((data: unknown) => boolean) & { errors?: unknown };

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { examples: Record<string, { value: unknown }> };
}
interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<
    string,
    {
      content?: Record<
        string,
        { schema: unknown; examples?: Record<string, { $ref?: string; value?: unknown }> }
      >;
    }
  >;
}

let loaded: { spec: Spec; compile: (schema: unknown) => Validator } | undefined;

/** GitHub's OpenAPI description and a validator compiler for its schemas (loaded once). */
function openapi(): { spec: Spec; compile: (schema: unknown) => Validator } {
  if (loaded) return loaded;
  const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
  const spec = JSON.parse(readFileSync(file, "utf8")) as Spec & { components: Record<string, unknown> };
  const Ajv = (require("ajv") as { default: new (o: object) => AjvLike }).default;
  const addFormats = (require("ajv-formats") as { default: (a: AjvLike) => void }).default;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema({ $id: "gh", components: spec.components });
  const cache = new Map<string, Validator>();
  const compile = (schema: unknown): Validator => {
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"gh#/components/');
    let v = cache.get(text);
    if (!v) {
      v = ajv.compile(JSON.parse(text));
      cache.set(text, v);
    }
    return v;
  };
  loaded = { spec, compile };
  return loaded;
}
interface AjvLike {
  addSchema(schema: object): void;
  compile(schema: unknown): Validator;
}

/** The operation (by OpenAPI path template and method) for contract checks and examples. */
function operation(template: string, method: string): Operation {
  const op = openapi().spec.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`GitHub's OpenAPI description has no ${method} ${template}`);
  return op;
}

/** A copy of the operation's documented example answer, as a base for ours. */
function example(template: string, method: string, status = "200"): Record<string, unknown> {
  const ex = operation(template, method).responses[status]?.content?.["application/json"]?.examples?.default;
  const value = ex?.$ref
    ? openapi().spec.components.examples[ex.$ref.split("/").pop() ?? ""]?.value
    : ex?.value;
  return structuredClone(value) as Record<string, unknown>;
}

interface KeyPair {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

interface StoredSecret {
  readonly name: string;
  readonly createdAt: string;
  updatedAt: string;
  sealed: string;
  /** Every value written, opened, oldest first. */
  readonly history: string[];
}

interface OrgSecret extends StoredSecret {
  visibility: "all" | "private" | "selected";
  selected: number[];
}

interface Scope {
  readonly keys: KeyPair;
  readonly secrets: Map<string, StoredSecret>;
}

/** Where a secret lives. */
export type SecretTarget =
  { readonly repository: string; readonly environment?: string } | { readonly organization: string };

interface Workflow {
  readonly uses: SecretTarget & { readonly name: string };
  /** Conclude `failure` whatever happens (a broken deploy job). */
  failing: boolean;
}

interface Run {
  readonly id: number;
  readonly repository: string;
  readonly workflow: string;
  readonly ref: string;
  readonly createdAt: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: "success" | "failure" | null;
  inputs: unknown;
}

/** Options of {@link startGitHubApi}. */
export interface GitHubApiOptions {
  /** The token callers must send. */
  readonly token: string;
  /** The Fastly API a workflow run calls with the secret (the emulator). */
  readonly fastlyEndpoint?: string;
  /** Serve under `/api/v3`, as GitHub Enterprise Server does. */
  readonly enterprise?: boolean;
}

/** A running fake. */
export interface RunningGitHubApi {
  /** The `apiUrl` to configure. */
  readonly apiUrl: string;
  readonly requests: readonly { operation: string; status: number; body: unknown }[];
  /** Requests or answers that do not fit GitHub's OpenAPI description. */
  readonly violations: readonly string[];
  addRepository(repository: string, environments?: readonly string[]): number;
  addOrganization(org: string): void;
  /** Put `value` in the secret as a person would (sealed with the target's key). */
  setSecret(
    target: SecretTarget,
    name: string,
    value: string,
    access?: { visibility: "all" | "private" | "selected"; selected?: number[] },
  ): Promise<void>;
  /** The secret's current value, opened with the private key. */
  secretValue(target: SecretTarget, name: string): string | undefined;
  /** Every value the secret held, oldest first. */
  secretHistory(target: SecretTarget, name: string): readonly string[];
  orgSecretAccess(org: string, name: string): { visibility: string; selected: readonly number[] } | undefined;
  /** A workflow of `repository` that uses the secret `uses` when dispatched. */
  addWorkflow(repository: string, file: string, uses: SecretTarget & { readonly name: string }): void;
  /** Make the workflow conclude `failure` (true) or run normally. */
  setWorkflowFailing(repository: string, file: string, failing: boolean): void;
  /** Runs created so far. */
  runs(): readonly { id: number; status: string; conclusion: string | null; inputs: unknown }[];
  /** Answer 403 to `operation` (GitHub's operationId, e.g. `actions/create-or-update-repo-secret`). */
  deny(operation: string, denied?: boolean): void;
  fail(fault: FakeFault): void;
  release(): void;
  held(timeoutMs?: number): Promise<void>;
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const DOCS = "https://docs.github.com/rest";

function error(status: number, message: string): FakeAnswer {
  return { status, body: { message, documentation_url: DOCS, status: String(status) } };
}

/** Start the fake on 127.0.0.1, port 0. */
export async function startGitHubApi(options: GitHubApiOptions): Promise<RunningGitHubApi> {
  await sodium.ready;
  const violations: string[] = [];
  const denied = new Set<string>();
  const repositories = new Map<
    string,
    {
      id: number;
      scope: Scope;
      environments: Map<string, Scope>;
      workflows: Map<string, Workflow>;
      runs: Map<number, Run>;
    }
  >();
  const orgs = new Map<string, Scope>();
  const orgSecret = (org: string, name: string): OrgSecret | undefined =>
    orgs.get(org)?.secrets.get(name) as OrgSecret | undefined;
  let nextId = 1000;
  let nextRun = 9_000_000;
  const pending = new Set<Promise<void>>();
  const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

  const newScope = (): Scope => {
    const pair = sodium.crypto_box_keypair();
    return {
      keys: { keyId: String(nextId++) + "5680", publicKey: pair.publicKey, privateKey: pair.privateKey },
      secrets: new Map(),
    };
  };
  const open = (scope: Scope, sealed: string): string | undefined => {
    try {
      const bytes = sodium.from_base64(sealed, sodium.base64_variants.ORIGINAL);
      return sodium.to_string(
        sodium.crypto_box_seal_open(bytes, scope.keys.publicKey, scope.keys.privateKey),
      );
    } catch {
      return undefined;
    }
  };
  const seal = (scope: Scope, value: string): string =>
    sodium.to_base64(
      sodium.crypto_box_seal(sodium.from_string(value), scope.keys.publicKey),
      sodium.base64_variants.ORIGINAL,
    );

  const scopeOf = (target: SecretTarget): Scope | undefined => {
    if ("organization" in target) return orgs.get(target.organization);
    const repo = repositories.get(target.repository);
    if (!repo) return undefined;
    return target.environment === undefined ? repo.scope : repo.environments.get(target.environment);
  };
  const repoOf = (p: Readonly<Record<string, string>>) =>
    repositories.get(`${p.owner ?? ""}/${p.repo ?? ""}`);

  const publicKey = (scope: Scope | undefined): FakeAnswer =>
    scope
      ? {
          status: 200,
          body: {
            key_id: scope.keys.keyId,
            key: sodium.to_base64(scope.keys.publicKey, sodium.base64_variants.ORIGINAL),
          },
        }
      : error(404, "Not Found");

  const getSecret = (scope: Scope | undefined, name: string, org = false): FakeAnswer => {
    const secret = scope?.secrets.get(name);
    if (!secret) return error(404, "Not Found");
    const base = { name: secret.name, created_at: secret.createdAt, updated_at: secret.updatedAt };
    if (!org) return { status: 200, body: base };
    const o = secret as OrgSecret;
    return {
      status: 200,
      body: {
        ...base,
        visibility: o.visibility,
        ...(o.visibility === "selected"
          ? { selected_repositories_url: `${apiUrl}/orgs/x/actions/secrets/${name}/repositories` }
          : {}),
      },
    };
  };

  const putSecret = (
    scope: Scope | undefined,
    name: string,
    body: unknown,
    org?: { visibility: unknown; selected: unknown },
  ): FakeAnswer => {
    if (!scope) return error(404, "Not Found");
    const { encrypted_value, key_id } = (body ?? {}) as { encrypted_value?: unknown; key_id?: unknown };
    if (typeof encrypted_value !== "string" || typeof key_id !== "string")
      return error(422, "Invalid request.\n\nencrypted_value and key_id are required.");
    if (key_id !== scope.keys.keyId)
      return error(422, "Invalid request.\n\nkey_id does not match the current public key.");
    const value = open(scope, encrypted_value);
    if (value === undefined)
      return error(422, "Invalid request.\n\nencrypted_value could not be decrypted with the public key.");
    const existing = scope.secrets.get(name);
    const at = now();
    if (existing) {
      existing.sealed = encrypted_value;
      existing.updatedAt = at;
      existing.history.push(value);
    } else {
      scope.secrets.set(name, {
        name,
        createdAt: at,
        updatedAt: at,
        sealed: encrypted_value,
        history: [value],
      });
    }
    if (org) {
      const s = scope.secrets.get(name) as OrgSecret;
      if (org.visibility !== "all" && org.visibility !== "private" && org.visibility !== "selected")
        return error(422, "Invalid request.\n\nvisibility is not valid.");
      s.visibility = org.visibility;
      s.selected = Array.isArray(org.selected) ? (org.selected as number[]) : [];
    }
    return existing ? { status: 204 } : { status: 201, body: {} };
  };

  const runBody = (repo: string, run: Run): Record<string, unknown> => {
    const body = example("/repos/{owner}/{repo}/actions/runs/{run_id}", "get");
    return {
      ...body,
      id: run.id,
      run_number: run.id - 9_000_000,
      event: "workflow_dispatch",
      status: run.status,
      conclusion: run.conclusion,
      head_branch: run.ref,
      path: `.github/workflows/${run.workflow}`,
      created_at: run.createdAt,
      updated_at: now(),
      url: `${apiUrl}/repos/${repo}/actions/runs/${run.id}`,
      html_url: `https://github.example/${repo}/actions/runs/${run.id}`,
    };
  };

  const execute = async (repo: string, workflow: Workflow, run: Run): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    run.status = "in_progress";
    const scope = scopeOf(workflow.uses);
    const sealed = scope?.secrets.get(workflow.uses.name)?.sealed;
    const value = scope && sealed ? open(scope, sealed) : undefined;
    let ok = false;
    if (value !== undefined && options.fastlyEndpoint) {
      try {
        const answer = await fetch(`${options.fastlyEndpoint}/service`, {
          headers: { "Fastly-Key": value, Accept: "application/json", "User-Agent": WORKFLOW_USER_AGENT },
        });
        await answer.body?.cancel();
        ok = answer.ok;
      } catch {
        ok = false;
      }
    }
    run.status = "completed";
    run.conclusion = ok && !workflow.failing ? "success" : "failure";
    void repo;
  };

  const routes: FakeRoute[] = [
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/actions/secrets/public-key",
      operation: "actions/get-repo-public-key",
      handle: (r) => publicKey(repoOf(r.params)?.scope),
    },
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
      operation: "actions/get-repo-secret",
      handle: (r) => getSecret(repoOf(r.params)?.scope, r.params.secret_name ?? ""),
    },
    {
      method: "PUT",
      pattern: "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
      operation: "actions/create-or-update-repo-secret",
      handle: (r) => putSecret(repoOf(r.params)?.scope, r.params.secret_name ?? "", r.body),
    },
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
      operation: "actions/get-environment-public-key",
      handle: (r) => publicKey(repoOf(r.params)?.environments.get(r.params.environment_name ?? "")),
    },
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
      operation: "actions/get-environment-secret",
      handle: (r) =>
        getSecret(
          repoOf(r.params)?.environments.get(r.params.environment_name ?? ""),
          r.params.secret_name ?? "",
        ),
    },
    {
      method: "PUT",
      pattern: "/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
      operation: "actions/create-or-update-environment-secret",
      handle: (r) =>
        putSecret(
          repoOf(r.params)?.environments.get(r.params.environment_name ?? ""),
          r.params.secret_name ?? "",
          r.body,
        ),
    },
    {
      method: "GET",
      pattern: "/orgs/{org}/actions/secrets/public-key",
      operation: "actions/get-org-public-key",
      handle: (r) => publicKey(orgs.get(r.params.org ?? "")),
    },
    {
      method: "GET",
      pattern: "/orgs/{org}/actions/secrets/{secret_name}/repositories",
      operation: "actions/list-selected-repos-for-org-secret",
      handle: (r) => {
        const secret = orgSecret(r.params.org ?? "", r.params.secret_name ?? "");
        if (!secret) return error(404, "Not Found");
        if (secret.visibility !== "selected")
          return error(409, "Conflict: the secret's visibility is not selected");
        const base = example("/orgs/{org}/actions/secrets/{secret_name}/repositories", "get");
        const template = (base.repositories as Record<string, unknown>[])[0] ?? {};
        const page = Number(r.query.get("page") ?? "1");
        const perPage = Number(r.query.get("per_page") ?? "30");
        const ids = secret.selected.slice((page - 1) * perPage, page * perPage);
        return {
          status: 200,
          body: { total_count: secret.selected.length, repositories: ids.map((id) => ({ ...template, id })) },
        };
      },
    },
    {
      method: "GET",
      pattern: "/orgs/{org}/actions/secrets/{secret_name}",
      operation: "actions/get-org-secret",
      handle: (r) => getSecret(orgs.get(r.params.org ?? ""), r.params.secret_name ?? "", true),
    },
    {
      method: "PUT",
      pattern: "/orgs/{org}/actions/secrets/{secret_name}",
      operation: "actions/create-or-update-org-secret",
      handle: (r) => {
        const b = (r.body ?? {}) as { visibility?: unknown; selected_repository_ids?: unknown };
        return putSecret(orgs.get(r.params.org ?? ""), r.params.secret_name ?? "", r.body, {
          visibility: b.visibility,
          selected: b.selected_repository_ids,
        });
      },
    },
    {
      method: "POST",
      pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
      operation: "actions/create-workflow-dispatch",
      handle: (r) => {
        const repo = repoOf(r.params);
        const workflow = repo?.workflows.get(r.params.workflow_id ?? "");
        if (!repo || !workflow) return error(404, "Not Found");
        const b = (r.body ?? {}) as { ref?: unknown; inputs?: unknown; return_run_details?: unknown };
        if (typeof b.ref !== "string" || b.ref === "")
          return error(422, "Invalid request.\n\nref is required.");
        const run: Run = {
          id: nextRun++,
          repository: `${r.params.owner}/${r.params.repo}`,
          workflow: r.params.workflow_id ?? "",
          ref: b.ref,
          createdAt: now(),
          status: "queued",
          conclusion: null,
          inputs: b.inputs,
        };
        repo.runs.set(run.id, run);
        const p = execute(run.repository, workflow, run).finally(() => pending.delete(p));
        pending.add(p);
        if (b.return_run_details === true) {
          return {
            status: 200,
            body: {
              workflow_run_id: run.id,
              run_url: `${apiUrl}/repos/${run.repository}/actions/runs/${run.id}`,
              html_url: `https://github.example/${run.repository}/actions/runs/${run.id}`,
            },
          };
        }
        return { status: 204 };
      },
    },
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/actions/runs/{run_id}",
      operation: "actions/get-workflow-run",
      handle: (r) => {
        const repo = repoOf(r.params);
        const run = repo?.runs.get(Number(r.params.run_id));
        return run ? { status: 200, body: runBody(run.repository, run) } : error(404, "Not Found");
      },
    },
    {
      method: "GET",
      pattern: "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
      operation: "actions/list-workflow-runs",
      handle: (r) => {
        const repo = repoOf(r.params);
        if (!repo) return error(404, "Not Found");
        const runs = [...repo.runs.values()].filter((x) => x.workflow === r.params.workflow_id).reverse();
        return {
          status: 200,
          body: { total_count: runs.length, workflow_runs: runs.map((x) => runBody(x.repository, x)) },
        };
      },
    },
  ];
  const templates = new Map<string, string>(routes.map((r) => [r.operation, r.pattern]));

  const fake = await startFakeHttp({
    routes,
    ...(options.enterprise ? { prefix: "/api/v3" } : {}),
    authorize(request: FakeRequest, op: string) {
      const header = String(request.headers.authorization ?? "");
      const m = /^(?:token|bearer) (.+)$/i.exec(header);
      if (!m || m[1] !== options.token) return error(401, "Bad credentials");
      if (denied.has(op)) return error(403, "Resource not accessible by personal access token");
      return undefined;
    },
    notFound: () => error(404, "Not Found"),
    observe(op, request, answer) {
      const template = templates.get(op);
      if (!template) return;
      const spec = operation(template, request.method);
      if (spec.operationId !== op)
        violations.push(`${op}: the route is ${spec.operationId} in the description`);
      const bodySchema = spec.requestBody?.content["application/json"]?.schema;
      if (bodySchema && request.body !== undefined) {
        const v = openapi().compile(bodySchema);
        if (!v(request.body)) violations.push(`${op} request: ${JSON.stringify(v.errors)}`);
      }
      const documented = spec.responses[String(answer.status)];
      if (!documented) {
        if (answer.status < 400)
          violations.push(`${op}: answered ${answer.status}, which the description does not list`);
        return;
      }
      const schema = documented.content?.["application/json"]?.schema;
      if (schema && answer.body !== undefined) {
        const v = openapi().compile(schema);
        if (!v(answer.body))
          violations.push(`${op} answer ${answer.status}: ${JSON.stringify(v.errors).slice(0, 500)}`);
      }
    },
  });
  const apiUrl = `${fake.url}${options.enterprise ? "/api/v3" : ""}`;

  return {
    apiUrl,
    requests: fake.requests,
    violations,
    addRepository(repository, environments = []) {
      const id = nextId++;
      repositories.set(repository, {
        id,
        scope: newScope(),
        environments: new Map(environments.map((e) => [e, newScope()])),
        workflows: new Map(),
        runs: new Map(),
      });
      return id;
    },
    addOrganization(org) {
      orgs.set(org, newScope());
    },
    async setSecret(target, name, value, access) {
      await sodium.ready;
      const scope = scopeOf(target);
      if (!scope) throw new Error("no such target");
      const answer = putSecret(
        scope,
        name,
        { encrypted_value: seal(scope, value), key_id: scope.keys.keyId },
        "organization" in target
          ? { visibility: access?.visibility ?? "private", selected: access?.selected ?? [] }
          : undefined,
      );
      if (answer.status >= 300) throw new Error(`setSecret: ${answer.status}`);
    },
    secretValue(target, name) {
      const scope = scopeOf(target);
      const sealed = scope?.secrets.get(name)?.sealed;
      return scope && sealed ? open(scope, sealed) : undefined;
    },
    secretHistory: (target, name) => [...(scopeOf(target)?.secrets.get(name)?.history ?? [])],
    orgSecretAccess(org, name) {
      const s = orgSecret(org, name);
      return s ? { visibility: s.visibility, selected: [...s.selected] } : undefined;
    },
    addWorkflow(repository, file, uses) {
      const repo = repositories.get(repository);
      if (!repo) throw new Error(`no repository ${repository}`);
      repo.workflows.set(file, { uses, failing: false });
    },
    setWorkflowFailing(repository, file, failing) {
      const w = repositories.get(repository)?.workflows.get(file);
      if (!w) throw new Error(`no workflow ${file}`);
      w.failing = failing;
    },
    runs: () =>
      [...repositories.values()].flatMap((r) =>
        [...r.runs.values()].map((x) => ({
          id: x.id,
          status: x.status,
          conclusion: x.conclusion,
          inputs: x.inputs,
        })),
      ),
    deny: (op, isDenied = true) => void (isDenied ? denied.add(op) : denied.delete(op)),
    fail: (fault) => fake.fail(fault),
    release: () => fake.release(),
    held: (t) => fake.held(t),
    idle: (t) => fake.idle(t),
    async close() {
      await Promise.all([...pending]);
      await fake.close();
    },
  };
}
