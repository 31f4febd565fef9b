/**
 * The WSO2 tables whose rows decide how long a 3.1.0 -> 4.2.0 migration runs, as WSO2's own database scripts create
 * them (docs/wso2-compatibility.md, "The data profile", names each script):
 * - carbon-kernel 4.6.0 `distribution/kernel/carbon-home/dbscripts/{postgresql,mysql}.sql`: UM_TENANT, REG_LOG,
 *   REG_RESOURCE_HISTORY, REG_CONTENT_HISTORY;
 * - carbon-apimgt `features/apimgt/org.wso2.carbon.apimgt.core.feature/src/main/resources/sql/postgresql.sql`:
 *   AM_API, AM_APPLICATION, AM_SUBSCRIPTION and the identity tables API-M 3.1.0 ships, IDN_OAUTH2_ACCESS_TOKEN
 *   (TOKEN_STATE, TIME_CREATED, VALIDITY_PERIOD) and IDN_OAUTH2_AUTHORIZATION_CODE.
 */

import type { WorkloadFigureId } from '../core/data-profile.js';

export interface WorkloadFigureDefinition {
  id: WorkloadFigureId;
  label: string;
  table: string;
  /** Rows to add to the count: the super tenant (carbon.super, id -1234) has no UM_TENANT row. */
  plus?: number;
  /** A column whose values are counted apart. */
  byColumn?: string;
  /** Count the rows whose validity has run out: `TIME_CREATED` plus `VALIDITY_PERIOD` ms is past. */
  expiry?: { created: string; validityMs: string };
}

export const WORKLOAD_FIGURES: readonly WorkloadFigureDefinition[] = [
  { id: 'tenants', label: 'tenants (UM_TENANT, plus the super tenant)', table: 'UM_TENANT', plus: 1 },
  { id: 'apis', label: 'APIs (AM_API)', table: 'AM_API' },
  { id: 'applications', label: 'applications (AM_APPLICATION)', table: 'AM_APPLICATION' },
  { id: 'subscriptions', label: 'subscriptions (AM_SUBSCRIPTION)', table: 'AM_SUBSCRIPTION' },
  {
    id: 'access-tokens',
    label: 'OAuth access tokens (IDN_OAUTH2_ACCESS_TOKEN)',
    table: 'IDN_OAUTH2_ACCESS_TOKEN',
    byColumn: 'TOKEN_STATE',
    expiry: { created: 'TIME_CREATED', validityMs: 'VALIDITY_PERIOD' },
  },
  {
    id: 'authorization-codes',
    label: 'authorization codes (IDN_OAUTH2_AUTHORIZATION_CODE)',
    table: 'IDN_OAUTH2_AUTHORIZATION_CODE',
  },
  {
    id: 'registry-resource-history',
    label: 'registry resource history (REG_RESOURCE_HISTORY)',
    table: 'REG_RESOURCE_HISTORY',
  },
  {
    id: 'registry-content-history',
    label: 'registry content history (REG_CONTENT_HISTORY)',
    table: 'REG_CONTENT_HISTORY',
  },
  { id: 'registry-log', label: 'registry log (REG_LOG)', table: 'REG_LOG' },
];

/** The tables WSO2's token cleanup empties of unused tokens and codes: when they hold most bytes, run it first. */
export const TOKEN_TABLES: readonly string[] = ['IDN_OAUTH2_ACCESS_TOKEN', 'IDN_OAUTH2_AUTHORIZATION_CODE'];

/** WSO2's page on removing unused tokens, sessions and registry logs ("deep cleaning", with its scripts) for 3.1.0. */
export const TOKEN_CLEANUP_DOCS =
  'https://apim.docs.wso2.com/en/3.1.0/install-and-setup/setup/setting-up-databases/managing-data-growth-and-improving-performance/';
