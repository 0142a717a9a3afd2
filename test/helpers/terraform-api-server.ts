/**
 * A local server speaking the part of HCP Terraform's JSON:API (`/api/v2`) the `hcp-terraform` store
 * and the `hcp-terraform-run` verifier use, written from its API documentation: workspaces by
 * organization and name, workspace variables and variable-set variables (list, create, update in
 * place; a sensitive variable's value never given back, `null` in every answer; 422 with a JSON:API
 * error document for a bad or duplicate variable), variable sets by organization (paginated), and
 * runs (`plan-only`, statuses `pending` → `planning` → `planned_and_finished` or `errored`).
 * Requests must carry `Authorization: Bearer <token>` and send `application/vnd.api+json`; a
 * forbidden resource answers 404, as HCP Terraform does. Faults add 429 with Retry-After and
 * held calls.
 *
 * A queued run "plans" with the workspace's variables (its own first, then those of its variable
 * sets): it makes one Fastly request with the variable `fastlyKey` names, and errors when Fastly
 * refuses it, as a plan using the Fastly provider would.
 */
import { randomBytes } from "node:crypto";
import {
  startFakeHttp,
  type FakeAnswer,
  type FakeFault,
  type FakeRequest,
  type FakeRoute,
} from "./fake-http.ts";

/** The User-Agent of a run's Fastly request. */
export const TERRAFORM_RUN_USER_AGENT = "ftr-test-terraform-run";

interface Variable {
  readonly id: string;
  readonly key: string;
  value: string;
  readonly category: "env" | "terraform";
  hcl: boolean;
  sensitive: boolean;
  versionId: string;
  /** Every value written, oldest first. */
  readonly history: string[];
}

interface Workspace {
  readonly id: string;
  readonly name: string;
  readonly vars: Variable[];
  readonly varsets: string[];
}

interface VarSet {
  readonly id: string;
  readonly name: string;
  readonly vars: Variable[];
}

interface Run {
  readonly id: string;
  status: string;
  readonly planOnly: boolean;
  readonly message: string;
}

/** A running fake. */
export interface RunningTerraformApi {
  readonly address: string;
  readonly requests: readonly { operation: string; status: number; body: unknown }[];
  addWorkspace(org: string, name: string): string;
  addVarSet(org: string, name: string, workspaces?: readonly string[]): string;
  /** Set a variable as a person would (create or replace). */
  setVariable(
    where: { workspace: string } | { varset: string },
    key: string,
    value: string,
    fields?: { category?: "env" | "terraform"; sensitive?: boolean; hcl?: boolean },
  ): void;
  variable(
    where: { workspace: string } | { varset: string },
    key: string,
    category?: "env" | "terraform",
  ):
    | { value: string; sensitive: boolean; hcl: boolean; history: readonly string[]; count: number }
    | undefined;
  /** The variable a run plans with (`fastlyKey`, category env). */
  setRunVariable(key: string): void;
  /** Make plans error whatever happens (true), or plan normally. */
  setPlansFailing(failing: boolean): void;
  runs(): readonly { id: string; status: string; planOnly: boolean }[];
  /** Answer 404 to `operation` (what HCP Terraform answers when the token may not see it). */
  deny(operation: string, denied?: boolean): void;
  fail(fault: FakeFault): void;
  release(): void;
  held(timeoutMs?: number): Promise<void>;
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const jsonApiError = (status: number, title: string, detail?: string, pointer?: string): FakeAnswer => ({
  status,
  body: {
    errors: [
      {
        status: String(status),
        title,
        ...(detail ? { detail } : {}),
        ...(pointer ? { source: { pointer } } : {}),
      },
    ],
  },
});
const notFound = () => jsonApiError(404, "not found");
const id = (prefix: string) => `${prefix}-${randomBytes(8).toString("base64url").replace(/[-_]/g, "x")}`;

/** Start the fake on 127.0.0.1, port 0. */
export async function startTerraformApi(options: {
  readonly token: string;
  readonly fastlyEndpoint?: string;
}): Promise<RunningTerraformApi> {
  const workspaces = new Map<string, Workspace & { org: string }>(); // by id
  const varsets = new Map<string, VarSet & { org: string }>(); // by id
  const runs = new Map<string, Run & { workspace: string }>();
  const denied = new Set<string>();
  const pending = new Set<Promise<void>>();
  let runKey = "FASTLY_API_KEY";
  let plansFailing = false;

  const varJson = (v: Variable) => ({
    id: v.id,
    type: "vars",
    attributes: {
      key: v.key,
      value: v.sensitive ? null : v.value,
      sensitive: v.sensitive,
      category: v.category,
      hcl: v.hcl,
      description: null,
      "version-id": v.versionId,
    },
  });
  const wsByName = (org: string, name: string) =>
    [...workspaces.values()].find((w) => w.org === org && w.name === name);
  const collectionOf = (r: FakeRequest): Variable[] | undefined =>
    r.params.workspace_id !== undefined
      ? workspaces.get(r.params.workspace_id)?.vars
      : varsets.get(r.params.varset_id ?? "")?.vars;

  /** Checks a variable document as HCP Terraform does; returns its attributes or the 422. */
  const validate = (body: unknown, creating: boolean): Record<string, unknown> | FakeAnswer => {
    const data = (body as { data?: { type?: unknown; attributes?: unknown } } | undefined)?.data;
    if (!data || data.type !== "vars" || typeof data.attributes !== "object" || data.attributes === null) {
      return jsonApiError(
        422,
        "invalid attribute",
        'the document must be { data: { type: "vars", attributes } }',
        "/data",
      );
    }
    const a = data.attributes as Record<string, unknown>;
    const allowed = ["key", "value", "description", "category", "hcl", "sensitive"];
    const unknown = Object.keys(a).find((k) => !allowed.includes(k));
    if (unknown)
      return jsonApiError(
        422,
        "invalid attribute",
        `unknown attribute ${unknown}`,
        `/data/attributes/${unknown}`,
      );
    if (creating && (typeof a.key !== "string" || a.key === ""))
      return jsonApiError(422, "invalid attribute", "Key can't be blank", "/data/attributes/key");
    if (creating && a.category !== "env" && a.category !== "terraform") {
      return jsonApiError(
        422,
        "invalid attribute",
        "Category is not included in the list",
        "/data/attributes/category",
      );
    }
    if (a.value !== undefined && typeof a.value !== "string")
      return jsonApiError(422, "invalid attribute", "Value must be a string", "/data/attributes/value");
    if (a.sensitive !== undefined && typeof a.sensitive !== "boolean")
      return jsonApiError(
        422,
        "invalid attribute",
        "Sensitive must be a boolean",
        "/data/attributes/sensitive",
      );
    return a;
  };

  const create = (r: FakeRequest): FakeAnswer => {
    const vars = collectionOf(r);
    if (!vars) return notFound();
    const a = validate(r.body, true);
    if ("status" in a && typeof a.status === "number") return a as FakeAnswer;
    const attrs = a as Record<string, unknown>;
    if (vars.some((v) => v.key === attrs.key && v.category === attrs.category)) {
      return jsonApiError(422, "invalid attribute", "Key has already been taken", "/data/attributes/key");
    }
    const v: Variable = {
      id: id("var"),
      key: String(attrs.key),
      value: typeof attrs.value === "string" ? attrs.value : "",
      category: attrs.category as "env" | "terraform",
      hcl: attrs.hcl === true,
      sensitive: attrs.sensitive === true,
      versionId: randomBytes(20).toString("hex"),
      history: typeof attrs.value === "string" ? [attrs.value] : [],
    };
    vars.push(v);
    return { status: 201, body: { data: varJson(v) } };
  };

  const update = (r: FakeRequest): FakeAnswer => {
    const v = collectionOf(r)?.find((x) => x.id === r.params.var_id);
    if (!v) return notFound();
    const a = validate(r.body, false);
    if ("status" in a && typeof a.status === "number") return a as FakeAnswer;
    const attrs = a as Record<string, unknown>;
    if (
      (r.body as { data?: { id?: unknown } }).data?.id !== undefined &&
      (r.body as { data: { id?: unknown } }).data.id !== v.id
    ) {
      return jsonApiError(409, "conflict", "the document's id does not match the URL");
    }
    if (v.sensitive && attrs.sensitive === false)
      return jsonApiError(
        422,
        "invalid attribute",
        "Sensitive variables cannot be made non-sensitive",
        "/data/attributes/sensitive",
      );
    if (typeof attrs.value === "string") {
      v.value = attrs.value;
      v.history.push(attrs.value);
    }
    if (attrs.sensitive === true) v.sensitive = true;
    if (typeof attrs.hcl === "boolean") v.hcl = attrs.hcl;
    v.versionId = randomBytes(20).toString("hex");
    return { status: 200, body: { data: varJson(v) } };
  };

  const plan = async (run: Run & { workspace: string }): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    run.status = "planning";
    const ws = workspaces.get(run.workspace);
    const own = ws?.vars.find((v) => v.key === runKey && v.category === "env");
    const inherited = ws?.varsets
      .flatMap((s) => varsets.get(s)?.vars ?? [])
      .find((v) => v.key === runKey && v.category === "env");
    const value = (own ?? inherited)?.value;
    let ok = false;
    if (value !== undefined && options.fastlyEndpoint) {
      try {
        const answer = await fetch(`${options.fastlyEndpoint}/service`, {
          headers: {
            "Fastly-Key": value,
            Accept: "application/json",
            "User-Agent": TERRAFORM_RUN_USER_AGENT,
          },
        });
        await answer.body?.cancel();
        ok = answer.ok;
      } catch {
        ok = false;
      }
    }
    run.status = ok && !plansFailing ? "planned_and_finished" : "errored";
  };

  const runJson = (run: Run & { workspace: string }) => ({
    id: run.id,
    type: "runs",
    attributes: {
      status: run.status,
      "plan-only": run.planOnly,
      message: run.message,
      "created-at": new Date().toISOString(),
    },
    relationships: { workspace: { data: { id: run.workspace, type: "workspaces" } } },
  });

  const routes: FakeRoute[] = [
    {
      method: "GET",
      pattern: "/api/v2/organizations/{org}/workspaces/{name}",
      operation: "show-workspace",
      handle(r) {
        const ws = wsByName(r.params.org ?? "", r.params.name ?? "");
        return ws
          ? { status: 200, body: { data: { id: ws.id, type: "workspaces", attributes: { name: ws.name } } } }
          : notFound();
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/workspaces/{workspace_id}/vars",
      operation: "list-workspace-vars",
      handle: (r) => {
        const vars = collectionOf(r);
        return vars ? { status: 200, body: { data: vars.map(varJson) } } : notFound();
      },
    },
    {
      method: "POST",
      pattern: "/api/v2/workspaces/{workspace_id}/vars",
      operation: "create-workspace-var",
      handle: create,
    },
    {
      method: "PATCH",
      pattern: "/api/v2/workspaces/{workspace_id}/vars/{var_id}",
      operation: "update-workspace-var",
      handle: update,
    },
    {
      method: "GET",
      pattern: "/api/v2/organizations/{org}/varsets",
      operation: "list-varsets",
      handle(r) {
        const q = r.query.get("q") ?? "";
        const all = [...varsets.values()].filter((s) => s.org === r.params.org && s.name.includes(q));
        const size = Number(r.query.get("page[size]") ?? "20");
        const page = Number(r.query.get("page[number]") ?? "1");
        const slice = all.slice((page - 1) * size, page * size);
        const pages = Math.max(1, Math.ceil(all.length / size));
        return {
          status: 200,
          body: {
            data: slice.map((s) => ({
              id: s.id,
              type: "varsets",
              attributes: { name: s.name, global: false },
            })),
            meta: {
              pagination: {
                "current-page": page,
                "next-page": page < pages ? page + 1 : null,
                "total-pages": pages,
                "total-count": all.length,
              },
            },
          },
        };
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/varsets/{varset_id}/relationships/vars",
      operation: "list-varset-vars",
      handle: (r) => {
        const vars = collectionOf(r);
        return vars ? { status: 200, body: { data: vars.map(varJson) } } : notFound();
      },
    },
    {
      method: "POST",
      pattern: "/api/v2/varsets/{varset_id}/relationships/vars",
      operation: "create-varset-var",
      handle: create,
    },
    {
      method: "PATCH",
      pattern: "/api/v2/varsets/{varset_id}/relationships/vars/{var_id}",
      operation: "update-varset-var",
      handle: update,
    },
    {
      method: "POST",
      pattern: "/api/v2/runs",
      operation: "create-run",
      handle(r) {
        const data = (
          r.body as
            | {
                data?: {
                  type?: unknown;
                  attributes?: Record<string, unknown>;
                  relationships?: { workspace?: { data?: { id?: unknown } } };
                };
              }
            | undefined
        )?.data;
        const wsId = data?.relationships?.workspace?.data?.id;
        if (data?.type !== "runs" || typeof wsId !== "string")
          return jsonApiError(422, "invalid attribute", "a run needs relationships.workspace");
        if (!workspaces.has(wsId)) return notFound();
        const run = {
          id: id("run"),
          status: "pending",
          planOnly: data.attributes?.["plan-only"] === true,
          message: typeof data.attributes?.message === "string" ? data.attributes.message : "",
          workspace: wsId,
        };
        runs.set(run.id, run);
        const p = plan(run).finally(() => pending.delete(p));
        pending.add(p);
        return { status: 201, body: { data: runJson(run) } };
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/runs/{run_id}",
      operation: "show-run",
      handle: (r) => {
        const run = runs.get(r.params.run_id ?? "");
        return run ? { status: 200, body: { data: runJson(run) } } : notFound();
      },
    },
  ];

  const fake = await startFakeHttp({
    routes,
    contentType: "application/vnd.api+json",
    authorize(r, operation) {
      if (String(r.headers.authorization ?? "") !== `Bearer ${options.token}`)
        return jsonApiError(401, "unauthorized");
      if (
        r.body !== undefined &&
        !String(r.headers["content-type"] ?? "").startsWith("application/vnd.api+json")
      ) {
        return jsonApiError(415, "unsupported media type", "send application/vnd.api+json");
      }
      if (denied.has(operation)) return notFound();
      return undefined;
    },
    notFound: () => notFound(),
  });

  const target = (where: { workspace: string } | { varset: string }): Variable[] => {
    const found =
      "workspace" in where
        ? [...workspaces.values()].find((w) => w.name === where.workspace)
        : [...varsets.values()].find((s) => s.name === where.varset);
    if (!found) throw new Error("no such workspace or variable set");
    return found.vars;
  };

  return {
    address: fake.url,
    requests: fake.requests,
    addWorkspace(org, name) {
      const ws = { id: id("ws"), name, org, vars: [], varsets: [] };
      workspaces.set(ws.id, ws);
      return ws.id;
    },
    addVarSet(org, name, attached = []) {
      const set = { id: id("varset"), name, org, vars: [] };
      varsets.set(set.id, set);
      for (const w of attached) [...workspaces.values()].find((x) => x.name === w)?.varsets.push(set.id);
      return set.id;
    },
    setVariable(where, key, value, fields = {}) {
      const vars = target(where);
      const category = fields.category ?? "env";
      const existing = vars.find((v) => v.key === key && v.category === category);
      if (existing) {
        existing.value = value;
        existing.history.push(value);
        return;
      }
      vars.push({
        id: id("var"),
        key,
        value,
        category,
        hcl: fields.hcl ?? false,
        sensitive: fields.sensitive ?? true,
        versionId: "1",
        history: [value],
      });
    },
    variable(where, key, category = "env") {
      const matching = target(where).filter((v) => v.key === key && v.category === category);
      const v = matching[0];
      return v
        ? {
            value: v.value,
            sensitive: v.sensitive,
            hcl: v.hcl,
            history: [...v.history],
            count: matching.length,
          }
        : undefined;
    },
    setRunVariable: (key) => void (runKey = key),
    setPlansFailing: (failing) => void (plansFailing = failing),
    runs: () => [...runs.values()].map((r) => ({ id: r.id, status: r.status, planOnly: r.planOnly })),
    deny: (operation, isDenied = true) => void (isDenied ? denied.add(operation) : denied.delete(operation)),
    fail: (f) => fake.fail(f),
    release: () => fake.release(),
    held: (t) => fake.held(t),
    idle: (t) => fake.idle(t),
    async close() {
      await Promise.all([...pending]);
      await fake.close();
    },
  };
}
