/**
 * `SeriesGauge` and `renderMetrics` against prom-client itself: the same labels and values given
 * to a plain `Gauge` one `set` at a time must give the same exposition text and the same `get()`,
 * for hostile label values, repeated label sets and every kind of number.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Gauge, Registry, type RegistryContentType } from "prom-client";
import { createMonitorMetrics, labelPair, renderMetricParts, renderMetrics, SeriesGauge } from "./metrics.ts";

type Row = { labels: Record<string, string>; value: number };

const HOSTILE = [
  "plain",
  'quote " inside',
  "back\\slash",
  'both \\" and \\\\n',
  "new\nline",
  "brace } and {",
  "comma, a=b",
  "ends with backslash \\",
  "space  and\ttab",
  "ünïcödé ✓ 🙂",
  "\u202eright-to-left",
  "",
];

/** The labels text `replace` takes for one row: `labelPair`s in the object's key order. */
const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([name, value]) => labelPair(name, value))
    .join(",");

/** A plain prom-client gauge and a SeriesGauge, each on a registry of its own, given `rows`. */
async function both(rows: readonly Row[], labelNames: string[], unique = false) {
  const plainRegistry = new Registry();
  const seriesRegistry = new Registry();
  const config = { name: "x_seconds", help: "Help with a \\ backslash\nand a newline.", labelNames };
  const plain = new Gauge({ ...config, registers: [plainRegistry] });
  const series = new SeriesGauge({ ...config, registers: [seriesRegistry] });
  for (const row of rows) plain.set(row.labels, row.value);
  series.replace(
    rows.map((r) => labelText(r.labels)),
    rows.map((r) => r.value),
    unique,
  );
  return { plain, series, plainRegistry, seriesRegistry };
}

async function assertSame(rows: readonly Row[], labelNames: string[], unique = false): Promise<void> {
  const { plain, series, plainRegistry, seriesRegistry } = await both(rows, labelNames, unique);
  const expected = await plainRegistry.getSingleMetricAsString("x_seconds");
  assert.equal(await series.exposition(), expected);
  assert.equal(await seriesRegistry.getSingleMetricAsString("x_seconds"), expected);
  assert.equal(await renderMetrics(seriesRegistry), await plainRegistry.metrics());
  assert.deepEqual(await series.get(), await plain.get());
}

describe("SeriesGauge", () => {
  it("writes what prom-client writes for the same labels and values, hostile label values included", async () => {
    const rows: Row[] = [];
    for (const [i, name] of HOSTILE.entries()) {
      rows.push({
        labels: { token_id: `id${i}`, name, environment: HOSTILE[(i + 3) % HOSTILE.length] ?? "" },
        value: 1_700_000_000 + i / 4,
      });
    }
    await assertSame(rows, ["token_id", "name", "environment"]);
    await assertSame(rows, ["token_id", "name", "environment"], true);
  });

  it("keeps a repeated label set in its first place with its last value", async () => {
    const a = { token_id: "a", name: "one" };
    const b = { token_id: "b", name: 'two "2"' };
    const rows: Row[] = [
      { labels: a, value: 1 },
      { labels: b, value: 2 },
      { labels: { ...a }, value: 3 },
      { labels: { token_id: "c", name: "three" }, value: 4 },
      { labels: { ...b }, value: 5 },
      { labels: { ...a }, value: 6 },
    ];
    await assertSame(rows, ["token_id", "name"]);
    const { series } = await both(rows, ["token_id", "name"]);
    const text = (await series.exposition()) ?? "";
    assert.deepEqual(text.split("\n").slice(2), [
      'x_seconds{token_id="a",name="one"} 6',
      'x_seconds{token_id="b",name="two \\"2\\""} 5',
      'x_seconds{token_id="c",name="three"} 4',
    ]);
  });

  it("writes every kind of number as prom-client does, and reads it back", async () => {
    const values = [0, -0, 1.5, -2.25, 1e21, 5e-7, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity];
    await assertSame(
      values.map((value, i) => ({ labels: { n: String(i) }, value })),
      ["n"],
    );
  });

  it("writes a series with none of its labels as prom-client does; a gauge without label names is refused", async () => {
    await assertSame(
      [
        { labels: {}, value: 7 },
        { labels: { n: "1" }, value: 8 },
      ],
      ["n"],
    );
    assert.throws(() => new SeriesGauge({ name: "w", help: "h", registers: [] }), RangeError);
    assert.throws(() => new SeriesGauge({ name: "w", help: "h", labelNames: [], registers: [] }), RangeError);
  });

  it("writes HELP and TYPE alone with no series, as before any replace and after reset", async () => {
    const { plain, series, plainRegistry, seriesRegistry } = await both([], ["n"]);
    const empty = await plainRegistry.metrics();
    assert.equal(await renderMetrics(seriesRegistry), empty);
    series.replace(['n="1"'], [1]);
    assert.notEqual(await renderMetrics(seriesRegistry), empty);
    series.reset();
    plain.reset();
    assert.equal(await renderMetrics(seriesRegistry), empty);
    assert.deepEqual(await series.get(), await plain.get());
  });

  it("drops series set before a replace; series set after it are written by the registry, after its own", async () => {
    const registry = new Registry();
    const series = new SeriesGauge({ name: "y", help: "h", labelNames: ["n"], registers: [registry] });
    series.set({ n: "dropped" }, 9);
    series.replace(['n="kept"'], [1]);
    assert.doesNotMatch((await series.exposition()) ?? "", /dropped/);
    series.set({ n: "later" }, 2);
    assert.equal(await series.exposition(), undefined, "the registry writes a family with set series");
    const text = await renderMetrics(registry);
    assert.equal(text, await registry.metrics());
    assert.equal(text, '# HELP y h\n# TYPE y gauge\ny{n="kept"} 1\ny{n="later"} 2\n');
  });

  it("refuses as many values as label sets, and a value that is not a number", () => {
    const series = new SeriesGauge({ name: "z", help: "h", labelNames: ["n"], registers: [] });
    assert.throws(() => series.replace(['n="a"'], []), RangeError);
    assert.throws(() => series.replace(['n="a"'], ["1" as unknown as number]), TypeError);
  });
});

describe("renderMetrics", () => {
  it("writes the whole registry as registry.metrics() does, in the order the metrics were registered", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "c_total", help: "c", labelNames: ["kind"], registers: [registry] });
    const series = new SeriesGauge({ name: "s", help: "s", labelNames: ["id"], registers: [registry] });
    const gauge = new Gauge({ name: "g", help: "g", registers: [registry] });
    counter.inc({ kind: "auth" });
    counter.inc({ kind: "other" }, 2);
    series.replace(['id="1"', 'id="2"'], [10, 20]);
    gauge.set(3);
    const text = await renderMetrics(registry);
    assert.equal(text, await registry.metrics());
    assert.ok(
      text.indexOf("c_total") < text.indexOf("# HELP s") &&
        text.indexOf("# HELP s") < text.indexOf("# HELP g"),
    );
  });

  it("gives the text in pieces, each SeriesGauge's text one of them", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "c_total", help: "c", registers: [registry] });
    const series = new SeriesGauge({ name: "s", help: "s", labelNames: ["id"], registers: [registry] });
    series.replace(['id="1"', 'id="2"'], [10, 20]);
    const first = await renderMetricParts(registry);
    assert.equal(first.join(""), await registry.metrics());
    assert.ok(first.includes((await series.exposition()) ?? ""), "the family is a piece of its own");
    assert.ok(first.every((part) => part !== ""));
    counter.inc();
    const second = await renderMetricParts(registry);
    assert.equal(second.join(""), await registry.metrics());
    assert.ok(second.includes(first.find((part) => part.startsWith("# HELP s ")) ?? "-"));
  });

  it("leaves an OpenMetrics registry to prom-client", async () => {
    const registry = new Registry<RegistryContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const series = new SeriesGauge({ name: "s", help: "s", labelNames: ["id"], registers: [registry] });
    series.replace(['id="1"'], [1]);
    assert.equal(await renderMetrics(registry), await registry.metrics());
    assert.match(await renderMetrics(registry), /# EOF\n$/);
  });

  it("writes serve's registry as prom-client writes it", async () => {
    const metrics = createMonitorMetrics();
    metrics.expiry.replace(
      [`${labelPair("token_id", "t")},${labelPair("name", 'n"')},${labelPair("environment", "")}`],
      [1.5],
    );
    metrics.apiErrors.inc({ kind: "auth" });
    metrics.refreshSuccess.set(1);
    assert.equal(await renderMetrics(metrics.registry), await metrics.registry.metrics());
  });
});
