/** RFC 3339 in UTC without fractions of a second, as Fastly prints times: `2026-11-28T04:49:11Z`. */
export function formatTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, "Z");
}
