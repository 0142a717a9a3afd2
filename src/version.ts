/** The package version; a unit test keeps it equal to package.json's. */
export const VERSION = "0.1.0";

/** The User-Agent this tool sends to Fastly, so its own requests are recognisable in `last_used` data. */
export const USER_AGENT = `fastly-token-rotator/${VERSION}`;
