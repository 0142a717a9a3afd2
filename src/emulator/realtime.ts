/**
 * Synthetic real-time stats in the shape of rt.fastly.com's `/v1/channel/{service}/ts/{ts}`.
 * Numbers are a deterministic function of (service, second), so repeated polls agree.
 */
import { createHash } from "node:crypto";

const POPS = ["LHR", "LCY", "MAN", "AMS", "FRA"] as const;

/** One second of metrics. */
export type RealtimeMetrics = Record<string, number>;

/** One entry of `Data`. */
export interface RealtimeEntry {
  datacenter: Record<string, RealtimeMetrics>;
  aggregated: RealtimeMetrics;
  recorded: number;
}

/** The response body. */
export interface RealtimeResponse {
  Timestamp: number;
  AggregateDelay: number;
  Data: RealtimeEntry[];
  Error?: string;
}

/** Seconds the aggregate trails behind now, as the service reports it. */
export const AGGREGATE_DELAY = 5;

function randomish(serviceId: string, second: number, pop: string): () => number {
  let seed = createHash("sha256").update(`${serviceId}:${second}:${pop}`).digest();
  let offset = 0;
  return () => {
    if (offset + 4 > seed.length) {
      seed = createHash("sha256").update(seed).digest();
      offset = 0;
    }
    const value = seed.readUInt32BE(offset) / 0x1_0000_0000;
    offset += 4;
    return value;
  };
}

function popMetrics(serviceId: string, second: number, pop: string): RealtimeMetrics {
  const next = randomish(serviceId, second, pop);
  const requests = 50 + Math.floor(next() * 400);
  const hits = Math.floor(requests * (0.75 + next() * 0.2));
  const pass = Math.floor((requests - hits) * next() * 0.3);
  const synth = Math.floor(next() * 3);
  const miss = requests - hits - pass - synth > 0 ? requests - hits - pass - synth : 0;
  const status5xx = next() < 0.1 ? 1 : 0;
  const status4xx = Math.floor(requests * next() * 0.03);
  const status3xx = Math.floor(requests * next() * 0.1);
  const status2xx = requests - status5xx - status4xx - status3xx;
  const bodyBytes = requests * (2000 + Math.floor(next() * 30000));
  const headerBytes = requests * (400 + Math.floor(next() * 200));
  return {
    requests,
    edge_requests: requests,
    hits,
    miss,
    pass,
    synth,
    errors: status5xx,
    hits_time: Number((hits * 0.0002).toFixed(6)),
    miss_time: Number((miss * 0.05).toFixed(6)),
    status_1xx: 0,
    status_2xx: status2xx,
    status_200: status2xx,
    status_3xx: status3xx,
    status_304: status3xx,
    status_4xx: status4xx,
    status_404: status4xx,
    status_5xx: status5xx,
    status_503: status5xx,
    resp_header_bytes: headerBytes,
    resp_body_bytes: bodyBytes,
    bandwidth: headerBytes + bodyBytes,
    req_header_bytes: requests * 600,
    req_body_bytes: 0,
  };
}

/** The entry for one recorded second of one service. */
export function realtimeEntry(serviceId: string, second: number): RealtimeEntry {
  const datacenter: Record<string, RealtimeMetrics> = {};
  const aggregated: RealtimeMetrics = {};
  for (const pop of POPS) {
    const metrics = popMetrics(serviceId, second, pop);
    datacenter[pop] = metrics;
    for (const [key, value] of Object.entries(metrics)) {
      aggregated[key] = Number(((aggregated[key] ?? 0) + value).toFixed(6));
    }
  }
  return { datacenter, aggregated, recorded: second };
}

/**
 * The response for a poll at `nowSeconds` asking for data after `after` (0 for "the latest"),
 * at most `limit` entries. No data yet gives the recorded "No data available" body.
 */
export function realtimeResponse(
  serviceId: string,
  nowSeconds: number,
  after: number,
  limit: number,
): RealtimeResponse {
  const newest = nowSeconds - 1;
  const oldest = after === 0 ? newest : Math.max(after + 1, newest - limit + 1);
  if (oldest > newest) {
    return {
      Data: [],
      Timestamp: Math.max(after, newest),
      AggregateDelay: AGGREGATE_DELAY,
      Error: "No data available, please retry",
    };
  }
  const data: RealtimeEntry[] = [];
  for (let second = Math.max(oldest, newest - limit + 1); second <= newest; second += 1) {
    data.push(realtimeEntry(serviceId, second));
  }
  return { Timestamp: newest, AggregateDelay: AGGREGATE_DELAY, Data: data };
}
