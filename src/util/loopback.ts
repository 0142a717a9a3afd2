/**
 * True when `url` names this machine: 127.0.0.0/8, ::1 or localhost. Traffic to it never leaves the
 * host, so plain http there (the emulator, a local proxy) is no risk worth a warning.
 */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  host = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
