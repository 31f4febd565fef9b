/**
 * The action's logger, through the real @actions/core: what it writes to stdout, which the runner reads line by line
 * for workflow commands, is captured here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActionsLogger } from '../../src/log/actions-logger.js';
import { commandLines } from '../helpers/runner.js';

const realWrite = process.stdout.write.bind(process.stdout);
let captured = '';

function capture(): void {
  captured = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
}

afterEach(() => {
  process.stdout.write = realWrite;
});

describe('createActionsLogger', () => {
  it('echoes server text inert, while its own workflow commands still work', async () => {
    capture();
    const logger = createActionsLogger();
    logger.setSecret('# age identity\nAGE-SECRET-KEY-1QQQ\n');
    await logger.group('Run the server', async () => {
      logger.info(
        '[x] INFO - V400Migration API {name: ##[set-output name=x]y}\n::add-mask::word\n  ::stop-commands::tok',
      );
      logger.info('\u001b[2J\u001b[31mred\u001b[0m and AGE-SECRET-KEY-1QQQ');
    });
    logger.warning('ERROR of the server: ::error::spoofed\n::endgroup::');
    const lines = captured.split('\n');
    // The tool's own commands: add-mask (the value and its key line), the group, the annotation.
    expect(lines).toContain('::add-mask::# age identity%0AAGE-SECRET-KEY-1QQQ%0A');
    expect(lines).toContain('::add-mask::AGE-SECRET-KEY-1QQQ');
    expect(lines).toContain('::group::Run the server');
    expect(lines).toContain('::endgroup::');
    expect(lines).toContain('::warning::ERROR of the server: ::error::spoofed%0A: :endgroup::');
    // Nothing else is a command; the echoed text is readable and the secret masked.
    expect(commandLines(captured).filter((line) => !/^::(add-mask|group|endgroup|warning)::/.test(line))).toEqual([]);
    expect(lines).toContain('[x] INFO - V400Migration API {name: # #[set-output name=x]y}');
    expect(lines).toContain(': :add-mask::word');
    expect(lines).toContain('  : :stop-commands::tok');
    expect(lines).toContain('red and ***');
    expect(captured).not.toContain('\u001b');
  });
});
