import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  automationTokenPageSchema,
  fastAutomationTokenPage,
  fastServiceList,
  serviceListSchema,
} from "./schemas.ts";

/** A list item as the 2026 API sends it. */
const listed = {
  id: "tok1",
  name: "ci deploy",
  role: "engineer",
  roles: [{ id: "r1", name: "engineer" }],
  scopes: "global:read purge_select",
  services: ["svc1"],
  limit_services: true,
  workspaces: [],
  expires_at: "2027-01-01T00:00:00Z",
  last_used_at: "2026-11-30T12:00:00Z",
  created_at: "2026-01-01T00:00:00Z",
  ip: "192.0.2.1",
  user_agent: "ftr/1",
  customer_id: "cust",
  creator_id: "user1",
  tls_access: false,
  access_token: "",
  sudo_expires_at: null,
};

/** The API's other ways of saying the same things, each one the schema reads. */
const variants: Record<string, unknown>[] = [
  listed,
  { id: "a", name: "" },
  {
    ...listed,
    role: "",
    roles: [{ id: "r2" }, { id: "r3", name: null }],
    scopes: ["global", "purge_all purge_select"],
    services: null,
    limit_services: null,
    workspaces: null,
    expires_at: null,
    last_used_at: "",
    created_at: "0001-01-01T00:00:00Z",
    ip: null,
    user_agent: "",
    customer_id: null,
    creator_id: null,
    user_id: "user2",
    tls_access: null,
  },
  { ...listed, scopes: undefined, scope: "global" },
  { ...listed, scopes: null, scope: null, role: null, roles: null },
  { ...listed, creator_id: "", user_id: "" },
];

describe("list page fast paths", () => {
  it("read every representation the schema reads into the schema's own output", () => {
    for (const meta of [
      undefined,
      { total_pages: 3, current_page: 1, per_page: 100, record_count: 250 },
      {},
    ]) {
      const page = meta === undefined ? { data: variants } : { data: variants, meta };
      assert.deepStrictEqual(fastAutomationTokenPage(page), automationTokenPageSchema.parse(page));
    }
    const services = [
      { id: "s1", name: "www", type: "vcl", customer_id: "cust", version: 3, comment: "", paused: false },
      { id: "s2", name: "", type: null, customer_id: "", version: null },
      { id: "s3", name: "api" },
    ];
    assert.deepStrictEqual(fastServiceList(services), serviceListSchema.parse(services));
    assert.deepStrictEqual(fastServiceList([]), []);
  });

  it("leave anything else to the schema, which says what is wrong", () => {
    const pages: unknown[] = [
      null,
      [],
      "text",
      { data: "x" },
      { data: [], meta: null },
      { data: [], meta: { total_pages: -1 } },
      { data: [], meta: { total_pages: 1.5 } },
      { data: [], meta: { per_page: "100" } },
      ...[
        { id: "" },
        { name: 3 },
        { id: 7 },
        { role: 1 },
        { scopes: 3 },
        { scopes: [1] },
        { scope: {} },
        { services: "svc" },
        { services: [1] },
        { expires_at: "not a time" },
        { last_used_at: 5 },
        { created_at: {} },
        { ip: 1 },
        { user_agent: [] },
        { customer_id: 1 },
        { creator_id: true },
        { user_id: 2 },
        { tls_access: "no" },
        { roles: "engineer" },
        { roles: [{ name: "engineer" }] },
        { roles: [{ id: "r", name: 1 }] },
        { limit_services: "yes" },
        { workspaces: "w" },
        { workspaces: [1] },
      ].map((bad) => ({ data: [{ ...listed, ...bad }] })),
      { data: [listed, null] },
    ];
    for (const page of pages) {
      assert.equal(fastAutomationTokenPage(page), undefined, JSON.stringify(page));
      // Where the fast path declines, the schema decides: here it refuses, and says why.
      assert.equal(automationTokenPageSchema.safeParse(page).success, false, JSON.stringify(page));
    }
    for (const list of [
      null,
      {},
      [null],
      [{ id: "", name: "x" }],
      [{ id: "s", name: 1 }],
      [{ id: "s", name: "x", type: 1 }],
      [{ id: "s", name: "x", customer_id: 1 }],
      [{ id: "s", name: "x", version: "3" }],
    ]) {
      assert.equal(fastServiceList(list), undefined, JSON.stringify(list));
      assert.equal(serviceListSchema.safeParse(list).success, false, JSON.stringify(list));
    }
  });

  it("decline roles given as plain ids, which the schema reads", () => {
    const page = { data: [{ ...listed, roles: ["r1"] }] };
    assert.equal(fastAutomationTokenPage(page), undefined);
    assert.deepEqual(automationTokenPageSchema.parse(page).data[0]?.roles, [{ id: "r1", name: "" }]);
  });
});
