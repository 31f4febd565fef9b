import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/config/types.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { isHealthStep } from '../../src/stages/apim.js';
import type { StageContext } from '../../src/stages/types.js';
import { createMemoryStore, createRecordingLogger } from '../helpers/fakes.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A local stand-in for WSO2 IS's health-check endpoint answering with `status`. */
async function healthServer(status: number): Promise<string> {
  server = createServer((_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end('{"health":[{"key":"DB","value":"ok"}]}');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/api/health-check/v1.0/health`;
}

function contextFor(isHealthUrl: string): StageContext {
  return {
    config: { keyManager: 'is', isHealthUrl } as ResolvedConfig,
    deps: {
      logger: createRecordingLogger(),
      store: createMemoryStore(),
      run: { runId: 'r', attempt: 1 },
      env: {},
      secrets: new SecretMasker(),
      secretEnv: [],
    },
    dryRun: false,
    force: false,
    workDir: '/nonexistent',
    outcome: {},
  };
}

describe('the WSO2 IS health check before the API-M runs', () => {
  it('passes when IS answers 200', async () => {
    const url = await healthServer(200);
    const output = await isHealthStep(contextFor(url)).run(contextFor(url), { failed: false });
    expect(output).toEqual({ summary: `${url} answered 200` });
  });

  it('fails when IS answers 503', async () => {
    const url = await healthServer(503);
    const output = await isHealthStep(contextFor(url)).run(contextFor(url), { failed: false });
    expect(output).toMatchObject({ outcome: 'failed' });
    expect(output?.summary).toContain('answered 503: WSO2 IS is not healthy');
  });

  it('fails with what to do when nothing answers', async () => {
    const url = await healthServer(200);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    const output = await isHealthStep(contextFor(url)).run(contextFor(url), { failed: false });
    expect(output).toMatchObject({ outcome: 'failed' });
    expect(output?.summary).toContain('did not answer');
    expect(output?.summary).toContain('WSO2 IS must be up during the API-M runs');
  });
});
