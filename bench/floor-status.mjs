/**
 * The floor for `ftr status` at scale: a plain Node script (no TypeScript loader, no ftr code) that
 * fetches the pages `ftr status` fetches from the API, with the same endpoints, page sizes and
 * concurrency, and only JSON-parses them. What `ftr status` costs beyond it is ftr's own work
 * (validating, judging, rendering). bench/monitor-scale.ts runs it alternately with `ftr status`.
 *
 * - `GET /automation-tokens?per_page=100&page=1`, then pages 2..meta.total_pages, 4 at a time;
 * - at the same time `GET /service?per_page=1000&filter[include_versions]=false&page=1`, then
 *   pages 2..N from its Link rel="last", 4 at a time;
 * - `GET /customer/{id}/users` for the customer of the first token;
 * - `GET /tokens/self` with each deployed value, read from the files named on the command line.
 *
 *   FASTLY_API_TOKEN=... node bench/floor-status.mjs http://127.0.0.1:PORT [secret-file ...]
 */
import { readFile } from "node:fs/promises";

const [endpoint, ...secretFiles] = process.argv.slice(2);
const key = process.env.FASTLY_API_TOKEN ?? "";
if (endpoint === undefined || key === "") {
  console.error("usage: FASTLY_API_TOKEN=... node bench/floor-status.mjs ENDPOINT [secret-file ...]");
  process.exit(2);
}
const headers = { "Fastly-Key": key, Accept: "application/json", "User-Agent": "floor-status" };

async function get(path, withKey = headers) {
  const response = await fetch(endpoint + path, { headers: withKey });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return { body: JSON.parse(await response.text()), link: response.headers.get("link") };
}

/** Run `fn` over `items`, 4 at a time, as ftr's client pages. */
async function fourAtATime(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, items.length) }, worker));
  return out;
}

const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

async function tokens() {
  const page = (n) => get(`/automation-tokens?page=${n}&per_page=100`);
  const first = await page(1);
  const rest = await fourAtATime(range(2, first.body.meta?.total_pages ?? 1), page);
  return [first, ...rest].flatMap((p) => p.body.data);
}

async function services() {
  const page = (n) => get(`/service?page=${n}&per_page=1000&filter%5Binclude_versions%5D=false`);
  const first = await page(1);
  const last = /[?&]page=(\d+)[^>]*>;\s*rel="last"/.exec(first.link ?? "")?.[1];
  const rest = await fourAtATime(range(2, Number(last ?? 1)), page);
  return [first, ...rest].flatMap((p) => p.body);
}

const [listed, all] = await Promise.all([tokens(), services()]);
const customer = listed.find((t) => t.customer_id)?.customer_id;
const users = customer ? (await get(`/customer/${customer}/users`)).body : [];
const selves = await Promise.all(
  secretFiles.map(async (file) => {
    const value = (await readFile(file, "utf8")).trim();
    return (await get("/tokens/self", { ...headers, "Fastly-Key": value })).body;
  }),
);
console.log(
  `${listed.length} tokens, ${all.length} services, ${users.length} users, ${selves.length} deployed`,
);
