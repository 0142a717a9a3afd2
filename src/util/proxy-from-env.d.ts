// The library ships no type declarations.
declare module "proxy-from-env" {
  /** The proxy URL for a request to `url` from the environment, or "" for none. */
  export function getProxyForUrl(url: string | URL): string;
}
