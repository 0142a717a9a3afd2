import type { Seed } from "./seed.ts";

/**
 * The demo account's known values. They are deliberately fake-looking and only ever accepted by the
 * emulator; the demo, tests and benchmarks use them to authenticate.
 */
export const demoCredentials = {
  customerId: "EIR5ilORPGCGmiZkerWV4q",
  superuser: {
    id: "CyDxPF4ZthudEHenWo7Dim",
    login: "ops@example.com",
    password: "demo-password-ops",
    tokenId: "2WnuRML5xAemDf6XQoVsmu",
    token: "demo-ops-superuser-token-0000001",
  },
  engineer: {
    id: "xVpzVYGFONJkH71sKIcdAR",
    login: "engineer@example.com",
    password: "demo-password-engineer",
    tokenId: "eDXV1Uy3BHAMuKtjk14iHN",
    token: "demo-engineer-user-token-0000002",
  },
  exporterTokens: {
    integration: {
      id: "mIyaWZy4ypy7MDUrJclykN",
      name: "GOV.UK prometheus-fastly-exporter token for Integration",
      token: "demo-exporter-integration-000003",
    },
    staging: {
      id: "Cxu32S1exwWtaDKf57ZZPr",
      name: "GOV.UK prometheus-fastly-exporter token for Staging",
      token: "demo-exporter-staging-0000000004",
    },
    production: {
      id: "fwbTvFRxkWewH8LXGl4qrz",
      name: "GOV.UK prometheus-fastly-exporter token for Production",
      token: "demo-exporter-production-0000005",
    },
  },
} as const;

/** Service ids of the demo account, by name. */
export const demoServiceIds = {
  "www Integration": "GfNFLiTLPsMaHbNG1hYQU9",
  "assets Integration": "lF86VgBuBOexRBBhzqgQlE",
  "www Staging": "8c7vSW7jgLEdxNdwhlOdkG",
  "assets Staging": "MBZojEDFTXIjHcyj6DgQnJ",
  "www Production": "Y1PL1f1tWiO1zKvbSLFVFn",
  "assets Production": "hlGAhcv06iQzRSOhYiWC65",
  datagovuk: "4c7fbWz8ATyqAdPtRiSUr2",
  "performance-platform": "RO7xuv8MyL7DslUWlqr8GE",
} as const;

const ids = demoServiceIds;
const { superuser, engineer, exporterTokens } = demoCredentials;

/**
 * A GOV.UK-shaped account: a superuser and an engineer, services for Integration, Staging and
 * Production plus two others, and one exporter automation token per environment. Token times are
 * relative to the emulator's clock, so the exporter tokens always expire within the next month.
 */
export const demoSeed: Seed = {
  customer: { id: demoCredentials.customerId, name: "GOV.UK" },
  users: [
    {
      id: superuser.id,
      login: superuser.login,
      name: "Ops",
      role: "superuser",
      password: superuser.password,
      tokens: [
        {
          id: superuser.tokenId,
          name: "ops cli",
          value: superuser.token,
          scope: "global",
          expiresAt: null,
          createdAt: "-200d",
        },
      ],
    },
    {
      id: engineer.id,
      login: engineer.login,
      name: "Engineer",
      role: "engineer",
      password: engineer.password,
      tokens: [
        {
          id: engineer.tokenId,
          name: "engineer cli",
          value: engineer.token,
          scope: "global",
          expiresAt: "+90d",
          createdAt: "-30d",
        },
      ],
    },
  ],
  services: [
    { id: ids["www Integration"], name: "www Integration", version: 12, createdAt: "-900d" },
    { id: ids["assets Integration"], name: "assets Integration", version: 7, createdAt: "-899d" },
    { id: ids["www Staging"], name: "www Staging", version: 15, createdAt: "-898d" },
    { id: ids["assets Staging"], name: "assets Staging", version: 8, createdAt: "-897d" },
    { id: ids["www Production"], name: "www Production", version: 31, createdAt: "-896d" },
    { id: ids["assets Production"], name: "assets Production", version: 19, createdAt: "-895d" },
    { id: ids.datagovuk, name: "datagovuk", version: 4, createdAt: "-700d" },
    {
      id: ids["performance-platform"],
      name: "performance-platform",
      type: "wasm",
      version: 2,
      createdAt: "-400d",
    },
  ],
  automationTokens: [
    {
      id: exporterTokens.integration.id,
      name: exporterTokens.integration.name,
      value: exporterTokens.integration.token,
      role: "engineer",
      scope: "global:read",
      services: [ids["www Integration"], ids["assets Integration"]],
      expiresAt: "+6d",
      createdAt: "-359d",
      createdBy: superuser.id,
      lastUsedAt: "-1m",
      ip: "10.1.0.12",
      userAgent: "Fastly-Exporter (10.2.0)",
    },
    {
      id: exporterTokens.staging.id,
      name: exporterTokens.staging.name,
      value: exporterTokens.staging.token,
      role: "engineer",
      scope: "global:read",
      services: [ids["www Staging"], ids["assets Staging"]],
      expiresAt: "+18d",
      createdAt: "-347d",
      createdBy: superuser.id,
      lastUsedAt: "-1m",
      ip: "10.2.0.12",
      userAgent: "Fastly-Exporter (10.2.0)",
    },
    {
      id: exporterTokens.production.id,
      name: exporterTokens.production.name,
      value: exporterTokens.production.token,
      role: "engineer",
      scope: "global:read",
      services: [ids["www Production"], ids["assets Production"]],
      expiresAt: "+27d",
      createdAt: "-338d",
      createdBy: superuser.id,
      lastUsedAt: "-1m",
      ip: "10.3.0.12",
      userAgent: "Fastly-Exporter (10.2.0)",
    },
  ],
};

/** Options of {@link generateSeed}. */
export interface GenerateSeedOptions {
  /** How many services (default 100). */
  readonly services?: number;
  /** How many automation tokens (default 20), each limited to a few services. */
  readonly automationTokens?: number;
}

/**
 * A large account for benchmarks. The superuser has the demo superuser's login, password and token
 * value ({@link demoCredentials}.superuser); automation token `i` has the value `bench-token-<i>`
 * padded to 32 characters. Expiries spread over the next year.
 */
export function generateSeed(options: GenerateSeedOptions = {}): Seed {
  const serviceCount = options.services ?? 100;
  const tokenCount = options.automationTokens ?? 20;
  const services = Array.from({ length: serviceCount }, (_, i) => ({
    name: `service-${String(i).padStart(5, "0")} ${["Integration", "Staging", "Production"][i % 3]}`,
    version: 1 + (i % 9),
    createdAt: `-${serviceCount - i}h`,
  }));
  const automationTokens = Array.from({ length: tokenCount }, (_, i) => ({
    name: `bench token ${i}`,
    value: `bench-token-${i}`.padEnd(32, "x"),
    role: "engineer" as const,
    scope: "global:read",
    services: serviceCount === 0 ? [] : [services[i % serviceCount]!.name],
    expiresAt: `+${1 + (i % 365)}d`,
    createdAt: `-${tokenCount - i}h`,
    createdBy: superuser.login,
  }));
  return {
    customer: { name: "Benchmark customer" },
    users: [
      {
        login: superuser.login,
        name: "Ops",
        role: "superuser",
        password: superuser.password,
        tokens: [{ name: "ops cli", value: superuser.token }],
      },
    ],
    services,
    automationTokens,
  };
}
