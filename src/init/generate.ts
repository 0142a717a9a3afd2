/**
 * `ftr init`, the pure part: (the account's automation tokens, services and the environments the
 * user names) -> which token each environment manages, its settings as config, and the YAML text.
 * Nothing here reads the network or the disk; `index.ts` does, and the CLI writes the file.
 */
import { Document, isMap, isScalar, isSeq, type YAMLMap, type YAMLSeq } from "yaml";
import { ENV_NAME_PATTERN, TOKEN_ROLES } from "../config/schema.ts";
import type { AutomationToken, Service } from "../fastly/types.ts";
import { reachesAllServices } from "../monitor/hygiene.ts";
import { compileNamePattern } from "../util/pattern.ts";
import { formatDuration } from "../util/time.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

import type { InitStore } from "./stores.ts";

export { INIT_STORES, type InitStore } from "./stores.ts";

/** The word every placeholder the user must replace carries. */
export const PLACEHOLDER = "CHANGE-ME";

/** One `--env NAME[=TOKEN]` as given. */
export interface EnvRequest {
  /** The environment's name (`ENV_NAME_PATTERN`). */
  readonly name: string;
  /** A token id or exact name; absent: tokens whose name holds the environment's name as a word. */
  readonly token?: string;
}

/** Parse `--env` values (`staging`, `production=Xy…` or `production=<token name>`), or say what is wrong. */
export function parseEnvRequests(values: readonly string[]): { requests: EnvRequest[]; error?: string } {
  const requests: EnvRequest[] = [];
  for (const value of values) {
    const at = value.indexOf("=");
    const name = at === -1 ? value : value.slice(0, at);
    const token = at === -1 ? undefined : value.slice(at + 1);
    if (!ENV_NAME_PATTERN.test(name)) {
      return {
        requests,
        error: `invalid environment name ${JSON.stringify(name)} in --env ${JSON.stringify(value)}: use lower-case letters, digits, - and _, starting with a letter or digit, e.g. --env staging`,
      };
    }
    if (token !== undefined && token.trim() === "") {
      return {
        requests,
        error: `--env ${name}= names no token: give its id or name after "=", or leave "=" out to find it by the environment's name`,
      };
    }
    if (requests.some((r) => r.name === name)) {
      return { requests, error: `--env ${name} is given twice; name each environment once` };
    }
    requests.push({ name, ...(token === undefined ? {} : { token }) });
  }
  if (requests.length === 0) {
    return {
      requests,
      error: "name at least one environment: --env staging --env production (or --env NAME=TOKEN_ID)",
    };
  }
  return { requests };
}

/** True when `name` holds `word` on its own: not as part of a longer run of letters and digits. */
export function holdsWord(name: string, word: string): boolean {
  const lower = name.toLowerCase();
  const w = word.toLowerCase();
  for (let at = lower.indexOf(w); at !== -1; at = lower.indexOf(w, at + 1)) {
    const before = at === 0 ? "" : lower[at - 1]!;
    const after = lower[at + w.length] ?? "";
    if (!/[a-z0-9]/.test(before) && !/[a-z0-9]/.test(after)) return true;
  }
  return false;
}

/** Tokens of one name: a rotation leaves two of them for a while, and they are one managed token. */
export interface TokenGroup {
  readonly name: string;
  /** Newest first (by creation). */
  readonly tokens: readonly AutomationToken[];
}

/** `tokens` grouped by name, newest token first in each group, groups in name order. */
function groupByName(tokens: readonly AutomationToken[]): TokenGroup[] {
  const groups = new Map<string, AutomationToken[]>();
  for (const t of tokens) groups.set(t.name, [...(groups.get(t.name) ?? []), t]);
  return [...groups.entries()]
    .map(([name, list]) => ({
      name,
      tokens: list.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0)),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What one environment found among the account's tokens. */
export type TokenMatch =
  | { readonly kind: "one"; readonly group: TokenGroup }
  | { readonly kind: "none" }
  | { readonly kind: "several"; readonly groups: readonly TokenGroup[] };

/**
 * The token `request` names: by id or exact name when given (an exact name first, then the same
 * name in another case), else every token whose name holds the environment's name as a word.
 */
export function matchToken(request: EnvRequest, tokens: readonly AutomationToken[]): TokenMatch {
  let found: AutomationToken[];
  if (request.token !== undefined) {
    const wanted = request.token;
    const byId = tokens.filter((t) => t.id === wanted);
    const byName = tokens.filter((t) => t.name === wanted);
    found = byId.length > 0 ? byId : byName;
    if (found.length === 0) found = tokens.filter((t) => t.name.toLowerCase() === wanted.toLowerCase());
    // An id picks that token, but the environment manages every token of its name.
    if (byId.length > 0) found = tokens.filter((t) => t.name === byId[0]!.name);
  } else {
    found = tokens.filter((t) => holdsWord(t.name, request.name));
  }
  const groups = groupByName(found);
  if (groups.length === 0) return { kind: "none" };
  if (groups.length === 1) return { kind: "one", group: groups[0]! };
  return { kind: "several", groups };
}

/** The services selector as config: exactly one of the three. */
export type ServicesSelector =
  { readonly nameMatches: string } | { readonly ids: readonly string[] } | { readonly all: true };

/** Letters and digits only: safe in a pattern as they are. */
const WORD = /[A-Za-z0-9]+/g;

/** Patterns worth trying for `word`, most readable first (all RE2, searched anywhere in a name). */
function patternsFor(word: string, seen: string): string[] {
  const first = word[0]!;
  const loose = /[a-z]/i.test(first)
    ? `[${first.toUpperCase()}${first.toLowerCase()}]${word.slice(1)}`
    : word;
  return [loose, seen, `\\b${loose}\\b`, `\\b${seen}\\b`, `(?i)\\b${word}\\b`];
}

/**
 * The selector that describes `wanted` (service ids) exactly among `services`: a name pattern when
 * one picks exactly those services today (a word all their names share, the environment's name
 * first), else their ids. `missing`: ids the account no longer has (left out).
 */
export function servicesSelector(
  token: Pick<AutomationToken, "services" | "limitServices">,
  services: readonly Service[],
  envName: string,
): { selector?: ServicesSelector; matched: Service[]; missing: string[] } {
  if (reachesAllServices(token)) return { selector: { all: true }, matched: [], missing: [] };
  const byId = new Map(services.map((s) => [s.id, s]));
  const matched = [...new Set(token.services)]
    .map((id) => byId.get(id))
    .filter((s): s is Service => s !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  const missing = token.services.filter((id) => !byId.has(id));
  if (matched.length === 0) return { matched, missing };
  const want = new Set(matched.map((s) => s.id));
  // Words every matched name holds, as first seen (case kept), keyed lower-case.
  let shared: Map<string, string> | undefined;
  for (const s of matched) {
    const words = new Map<string, string>();
    for (const w of s.name.match(WORD) ?? []) if (!words.has(w.toLowerCase())) words.set(w.toLowerCase(), w);
    shared = shared === undefined ? words : new Map([...shared].filter(([k]) => words.has(k)));
  }
  const candidates = [...(shared ?? new Map<string, string>())]
    .map(([lower, seen]) => ({ lower, seen }))
    .sort(
      (a, b) => Number(b.lower === envName) - Number(a.lower === envName) || b.lower.length - a.lower.length,
    );
  for (const { lower, seen } of candidates) {
    for (const pattern of patternsFor(lower, seen)) {
      const re = compileNamePattern(pattern);
      const picked = services.filter((s) => re.test(s.name));
      if (picked.length === want.size && picked.every((s) => want.has(s.id))) {
        return { selector: { nameMatches: pattern }, matched, missing };
      }
    }
  }
  return { selector: { ids: matched.map((s) => s.id) }, matched, missing };
}

/** `ms` in the duration grammar, to whole days (whole hours under two days). */
function roundDuration(ms: number): string {
  if (ms >= 2 * DAY_MS) return `${Math.round(ms / DAY_MS)}d`;
  return formatDuration(Math.max(1, Math.round(ms / HOUR_MS)) * HOUR_MS);
}

/** The token settings an environment's config gets from its token. */
export interface TokenSettings {
  /** `{ role }` or `{ roles }`: one field, so defaults never mix the two. */
  readonly access: { readonly role: string } | { readonly roles: readonly string[] };
  readonly scope?: string;
  readonly expiresIn?: string;
  readonly rotateBefore?: string;
  readonly tlsAccess?: true;
  readonly workspaces?: readonly string[];
}

/** Token settings from the token as the API describes it, and warnings about what could not be kept. */
export function tokenSettings(t: AutomationToken): { settings: TokenSettings; warnings: string[] } {
  const warnings: string[] = [];
  const builtin = (TOKEN_ROLES as readonly string[]).includes(t.role);
  const roleNames = t.roles?.map((r) => r.name) ?? [];
  const access =
    roleNames.length > 1 || (roleNames.length === 1 && roleNames[0] !== t.role) || !builtin
      ? { roles: roleNames.length > 0 ? roleNames : [t.role] }
      : { role: t.role };
  let expiresIn: string | undefined;
  let rotateBefore: string | undefined;
  if (t.expiresAt === undefined) {
    warnings.push("the token never expires; new tokens get the default lifetime, 365d (token.expiresIn)");
  } else if (t.createdAt === undefined || t.expiresAt.getTime() <= t.createdAt.getTime()) {
    warnings.push(
      "the API gave no creation time to measure the token's lifetime by; expiresIn is the default, 365d",
    );
  } else {
    const lifetime = t.expiresAt.getTime() - t.createdAt.getTime();
    expiresIn = roundDuration(lifetime);
    // rotateBefore must be shorter than expiresIn: a third of a short lifetime, else the default 30d.
    if (lifetime <= 60 * DAY_MS) rotateBefore = roundDuration(lifetime / 3);
  }
  const scope = t.scopes.join(" ");
  if (scope === "")
    warnings.push("the API gave no scope for the token; the config uses the default, global:read");
  if (t.name !== t.name.trim()) {
    warnings.push(
      "the token's name starts or ends with spaces, which the config does not keep: rename the token in Fastly",
    );
  }
  return {
    settings: {
      access,
      ...(scope === "" ? {} : { scope }),
      ...(expiresIn === undefined ? {} : { expiresIn }),
      ...(rotateBefore === undefined ? {} : { rotateBefore }),
      ...(t.tlsAccess === true ? { tlsAccess: true as const } : {}),
      ...(t.workspaces !== undefined && t.workspaces.length > 0 ? { workspaces: t.workspaces } : {}),
    },
    warnings,
  };
}

/** One environment, resolved. */
export interface InitEnvironment {
  readonly name: string;
  /** The newest token of the managed name (its settings are copied). */
  readonly token: AutomationToken;
  /** Ids of every token of that name (a rotation in progress leaves two). */
  readonly tokenIds: readonly string[];
  readonly settings: TokenSettings;
  readonly services: ServicesSelector;
  /** The services the selector picks today (empty for `all`). */
  readonly matchedServices: readonly Service[];
  /** Service ids the token holds that the account no longer has. */
  readonly missingServices: readonly string[];
  readonly approval: "required" | "none";
  readonly warnings: readonly string[];
}

/** Why one environment could not be resolved. */
export interface InitProblem {
  readonly environment: string;
  readonly kind: "no-match" | "several" | "no-services" | "taken";
  /** One line: what happened and what to pass. */
  readonly message: string;
  /** For `several`: the candidates, one token per name (the newest). */
  readonly candidates?: readonly AutomationToken[];
}

/** Resolve every requested environment against the account: all at once, every problem reported. */
export function resolveEnvironments(
  requests: readonly EnvRequest[],
  tokens: readonly AutomationToken[],
  services: readonly Service[],
): { environments: InitEnvironment[]; problems: InitProblem[] } {
  const environments: InitEnvironment[] = [];
  const problems: InitProblem[] = [];
  const claimed = new Map<string, string>();
  for (const request of requests) {
    const match = matchToken(request, tokens);
    const env = request.name;
    if (match.kind === "none") {
      problems.push({
        environment: env,
        kind: "no-match",
        message:
          request.token === undefined
            ? `${env}: no automation token's name contains "${env}" (${tokens.length} in the account; ftr status lists them); pass --env ${env}=<token id or name>`
            : `${env}: no automation token has the id or name ${JSON.stringify(request.token)}; pass --env ${env}=<token id or name> (ftr status lists them)`,
      });
      continue;
    }
    if (match.kind === "several") {
      problems.push({
        environment: env,
        kind: "several",
        message: `${env}: ${match.groups.length} automation tokens match; pick one with --env ${env}=<id>`,
        candidates: match.groups.map((g) => g.tokens[0]!),
      });
      continue;
    }
    const { group } = match;
    const other = claimed.get(group.name);
    if (other !== undefined) {
      problems.push({
        environment: env,
        kind: "taken",
        message: `${env}: the token ${JSON.stringify(group.name)} is already ${other}'s; each environment manages its own token: pass --env ${env}=<token id or name>`,
      });
      continue;
    }
    claimed.set(group.name, env);
    const newest = group.tokens[0]!;
    const { settings, warnings } = tokenSettings(newest);
    const picked = servicesSelector(newest, services, env);
    if (picked.missing.length > 0) {
      warnings.push(
        `the token is limited to ${picked.missing.length} service(s) the account no longer has (${picked.missing.join(", ")}); they are left out`,
      );
    }
    if (picked.selector === undefined) {
      problems.push({
        environment: env,
        kind: "no-services",
        message: `${env}: the token ${JSON.stringify(newest.name)} is limited to services the account no longer has (${picked.missing.join(", ")}); choose its services in the config by hand`,
      });
      continue;
    }
    if (group.tokens.length > 1) {
      warnings.push(
        `${group.tokens.length} tokens carry this name (a rotation leaves two for a while); settings copied from the newest, ${newest.id}`,
      );
    }
    environments.push({
      name: env,
      token: newest,
      tokenIds: group.tokens.map((t) => t.id),
      settings,
      services: picked.selector,
      matchedServices: picked.matched,
      missingServices: picked.missing,
      // The same rule validation warns by.
      approval: /prod/i.test(env) ? "required" : "none",
      warnings,
    });
  }
  return { environments, problems };
}

/** What the written document says besides the environments. */
export interface DocumentOptions {
  readonly store: InitStore;
  /** Written as `fastly.endpoint` (FASTLY_API_ENDPOINT when it was set). */
  readonly endpoint?: string;
  /** Written as `fastly.allowInsecure: true`: the endpoint is plain http off loopback, and the user allowed it. */
  readonly allowInsecure?: boolean;
  /** When the account was read (the header says so). */
  readonly now: Date;
}

/** Control characters, bidi controls, line and paragraph separators and other invisible format characters. */
const UNSAFE_IN_YAML =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/**
 * `text` as a YAML double-quoted scalar whose every control, bidi and invisible character is a
 * `\uXXXX` escape: what the file says is what a reader sees, and it reads back the same. (JSON
 * string syntax is YAML's double-quoted syntax.)
 */
export function quoteYaml(text: string): string {
  // A pattern reads better single-quoted, where a backslash is itself.
  if (text.includes("\\") && !new RegExp(UNSAFE_IN_YAML.source).test(text))
    return `'${text.replace(/'/g, "''")}'`;
  return escapeInvisible(JSON.stringify(text));
}

/** Every control, bidi and invisible character of `text` as a `\uXXXX` escape. */
function escapeInvisible(text: string): string {
  return text.replace(UNSAFE_IN_YAML, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Text from outside in a comment: one line, every control and invisible character escaped. */
const commentText = (text: string): string => escapeInvisible(text);

/** The placeholder `secret:` entry for `store`, with the comment that says what to fill in. */
function secretEntry(store: InitStore, env: string): { value: Record<string, unknown>; comment: string } {
  const k8sName = env.replace(/_/g, "-");
  switch (store) {
    case "aws-secrets-manager":
      return {
        value: { type: store, secretId: `${PLACEHOLDER}/fastly/${env}`, jsonKey: "fastly-api-token" },
        comment: [
          ` Where the consumer reads the token: replace secretId (${PLACEHOLDER}) with the secret's name or ARN;`,
          " drop jsonKey if the secret string is the token alone. Optional: region, profile, endpoint.",
        ].join("\n"),
      };
    case "kubernetes-secret":
      return {
        value: {
          type: store,
          namespace: PLACEHOLDER.toLowerCase(),
          name: `fastly-token-${k8sName}`,
          key: "token",
        },
        comment: [
          ` Where the consumer reads the token: replace the namespace (${PLACEHOLDER.toLowerCase()}), the Secret's name`,
          " and key. Optional: kubeconfig, context (default: the current context).",
        ].join("\n"),
      };
    case "file":
      return {
        value: { type: store, path: `./secrets/${env}.json`, jsonKey: "fastly-api-token" },
        comment: [
          " Where the consumer reads the token: a placeholder file beside this config. Point path at the",
          " consumer's file (drop jsonKey if the file holds the token alone), or use",
          " type: aws-secrets-manager, kubernetes-secret, vault-kv, ... (docs/configuration.md).",
        ].join("\n"),
      };
  }
}

/** The `services:` value as config. */
function servicesValue(selector: ServicesSelector): Record<string, unknown> {
  if ("all" in selector) return { all: true };
  if ("nameMatches" in selector) return { nameMatches: selector.nameMatches };
  return { ids: [...selector.ids] };
}

/** The settings key/values of `access` etc. */
function settingsRecord(s: TokenSettings, keys: readonly SettingKey[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (key === "access") Object.assign(out, "roles" in s.access ? { roles: [...s.access.roles] } : s.access);
    else if (s[key] !== undefined) out[key] = Array.isArray(s[key]) ? [...(s[key] as string[])] : s[key];
  }
  return out;
}

type SettingKey = "access" | "scope" | "expiresIn" | "rotateBefore" | "tlsAccess" | "workspaces";
const SHARED_KEYS: readonly SettingKey[] = ["access", "scope", "expiresIn", "rotateBefore"];
const OWN_KEYS: readonly SettingKey[] = ["tlsAccess", "workspaces"];

/**
 * The config document for `environments`, as YAML text with comments: settings all environments
 * share under `defaults.token` (when there are several), each environment's token name, services
 * and what differs, a placeholder secret store, no reload steps yet (a comment shows some), and a
 * `token-in-use` verifier. Every name from the account is a double-quoted scalar, escaped.
 */
export function renderConfig(environments: readonly InitEnvironment[], options: DocumentOptions): string {
  const shared: SettingKey[] =
    environments.length > 1
      ? SHARED_KEYS.filter((key) => {
          const values = environments.map((e) => JSON.stringify(settingsRecord(e.settings, [key])));
          return values.every((v) => v === values[0]) && values[0] !== "{}";
        })
      : [];
  const quoted: string[] = [];
  // Names from the account become markers here, replaced by their escaped quoted form at the end:
  // the yaml library leaves some invisible characters raw.
  const mark = (text: string): string => {
    quoted.push(text);
    return `ftr-init-quoted-${quoted.length - 1}-end`;
  };
  // Ids are letters and digits; one that is not is quoted like a name.
  const markOdd = (text: string): string => (/^[A-Za-z0-9]+$/.test(text) ? text : mark(text));
  /** Token settings with their strings from the account quoted. */
  const quote = (record: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...record };
    if (Array.isArray(out.roles)) out.roles = (out.roles as string[]).map(mark);
    if (typeof out.scope === "string") out.scope = mark(out.scope);
    if (Array.isArray(out.workspaces)) out.workspaces = (out.workspaces as string[]).map(markOdd);
    return out;
  };

  const doc = new Document({
    version: 1,
    ...(options.endpoint === undefined
      ? {}
      : {
          fastly: {
            endpoint: options.endpoint,
            ...(options.allowInsecure === true ? { allowInsecure: true } : {}),
          },
        }),
    ...(shared.length > 0
      ? { defaults: { token: quote(settingsRecord(environments[0]!.settings, shared)) } }
      : {}),
    environments: environments.map((e) => {
      const own = quote(
        settingsRecord(e.settings, [...SHARED_KEYS.filter((k) => !shared.includes(k)), ...OWN_KEYS]),
      );
      const services = servicesValue(e.services);
      if ("nameMatches" in services) services.nameMatches = mark(services.nameMatches as string);
      if ("ids" in services) services.ids = (services.ids as string[]).map(markOdd);
      return {
        name: e.name,
        token: { name: mark(e.token.name), services, ...own },
        secret: secretEntry(options.store, e.name).value,
        reload: [],
        verify: [{ type: "token-in-use" }],
        ...(e.approval === "required" ? { approval: "required" } : {}),
      };
    }),
  });

  doc.commentBefore = [
    ` Written by ftr init on ${options.now.toISOString().slice(0, 10)} from the account's automation tokens:`,
    ...environments.map(
      (e) =>
        `   ${e.name}: ${commentText(`${JSON.stringify(e.token.name)} (${e.tokenIds.join(", ")})`)}${e.token.expiresAt ? `, expires ${e.token.expiresAt.toISOString().slice(0, 10)}` : ", never expires"}`,
    ),
    " Before rotating: fill in each secret: (its comment says how) and add reload: steps;",
    " then ftr validate and ftr plan. Every key: docs/configuration.md.",
  ].join("\n");

  const insecure = doc.getIn(["fastly", "allowInsecure"], true);
  if (isScalar(insecure)) {
    insecure.commentBefore =
      " Plain http off this machine, as --insecure-endpoint allowed: the user token and sudo password cross the network unencrypted.";
  }
  // Small maps on one line, as the examples write them.
  const defaults = doc.getIn(["defaults", "token"], true);
  if (isMap(defaults)) defaults.flow = true;
  seqAt(doc.contents, "environments").items.forEach((node, i) => {
    const e = environments[i]!;
    if (!isMap(node)) return;
    const token = mapAt(node, "token");
    const services = mapAt(token, "services");
    if (!("ids" in e.services)) services.flow = true;
    for (const step of seqAt(node, "verify").items) if (isMap(step)) step.flow = true;
    const servicesPair = token.items.find((p) => isScalar(p.key) && p.key.value === "services");
    if (servicesPair && isScalar(servicesPair.key)) {
      servicesPair.key.commentBefore =
        "all" in e.services
          ? " The token may use every service (it is not limited to some)."
          : "nameMatches" in e.services
            ? ` Matches ${e.matchedServices.length} service(s) today: ${commentText(e.matchedServices.map((s) => s.name).join(", "))}`
            : " No name pattern picks exactly these services, so they are listed by id:";
    }
    if ("ids" in e.services) {
      const ids = e.services.ids;
      seqAt(services, "ids").items.forEach((item, at) => {
        if (!isScalar(item)) return;
        const service = e.matchedServices.find((s) => s.id === ids[at]);
        if (service) item.comment = ` ${commentText(service.name)}`;
      });
    }
    const pairs = node.items;
    const pairOf = (key: string) => pairs.find((p) => isScalar(p.key) && p.key.value === key);
    const secretKey = pairOf("secret")?.key;
    if (isScalar(secretKey)) secretKey.commentBefore = secretEntry(options.store, e.name).comment;
    const reloadKey = pairOf("reload")?.key;
    if (isScalar(reloadKey)) {
      reloadKey.commentBefore = [
        " How the consumer picks up the new value, run in order after it is stored, e.g.:",
        `   - { type: exec, command: ["./restart-exporter.sh", "${e.name}"], timeout: 60s }`,
        "   - { type: kubernetes-rollout, namespace: monitoring, deployment: fastly-exporter }",
      ].join("\n");
    }
    const verifyKey = pairOf("verify")?.key;
    if (isScalar(verifyKey)) {
      verifyKey.commentBefore = " Revoke the old token only once Fastly sees the new one in use.";
    }
    const approvalKey = pairOf("approval")?.key;
    if (isScalar(approvalKey))
      approvalKey.commentBefore = " Ask a person before rotating it (ftr rotate --yes skips the question).";
  });

  const text = doc.toString({ lineWidth: 0, flowCollectionPadding: true });
  return text.replace(/ftr-init-quoted-(\d+)-end/g, (_m, i: string) => quoteYaml(quoted[Number(i)]!));
}

/** The map under `key` of `node` (the document built above has it). */
function mapAt(node: unknown, key: string): YAMLMap {
  const found: unknown = isMap(node) ? node.get(key, true) : undefined;
  if (!isMap(found)) throw new Error(`init: no map at ${key}`);
  return found;
}

/** The sequence under `key` of `node` (the document built above has it). */
function seqAt(node: unknown, key: string): YAMLSeq {
  const found: unknown = isMap(node) ? node.get(key, true) : undefined;
  if (!isSeq(found)) throw new Error(`init: no sequence at ${key}`);
  return found;
}
