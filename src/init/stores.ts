/** The secret stores `ftr init` writes a placeholder for (alone here: shell completion reads it too). */
export const INIT_STORES = ["file", "aws-secrets-manager", "kubernetes-secret"] as const;

/** One of {@link INIT_STORES}. */
export type InitStore = (typeof INIT_STORES)[number];
