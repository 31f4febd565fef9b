/**
 * The action's logger, through the real @actions/core: what it writes to stdout, which the runner reads line by line
 * for workflow commands, is captured here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOTATED_PER_KIND, createActionsLogger } from '../../src/log/actions-logger.js';
import { commandLines, errorCommands, warningCommands } from '../helpers/runner.js';

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

  it('annotates 9 of each kind, prints the rest as plain lines, and says how many more in a tenth', () => {
    capture();
    const logger = createActionsLogger();
    for (let index = 1; index <= 25; index += 1) logger.warning(`warning ${index}`);
    for (let index = 1; index <= 12; index += 1) logger.error(`error ${index}\nits second line`);
    for (let index = 1; index <= 3; index += 1) logger.notice(`notice ${index}`);
    logger.finish('Identity migration failed in Run the server');

    const lines = captured.split('\n');
    const warnings = warningCommands(captured);
    expect(warnings).toHaveLength(ANNOTATED_PER_KIND + 1);
    expect(warnings.slice(0, 9)).toEqual(Array.from({ length: 9 }, (_, index) => `warning ${index + 1}`));
    expect(warnings[9]).toBe(
      "16 more warnings of this step are not annotations (GitHub keeps 10 of each kind per step): they are in the step's log and in the stage's logs artifact",
    );
    const errors = errorCommands(captured);
    expect(errors).toHaveLength(10);
    expect(errors[8]).toBe('error 9\nits second line');
    // The verdict is the last error annotation, whatever came before it.
    expect(errors[9]).toBe(
      "Identity migration failed in Run the server\n3 more errors of this step are not annotations (GitHub keeps 10 of each kind per step): they are in the step's log and in the stage's logs artifact",
    );
    expect(lines.filter((line) => line.startsWith('::notice::'))).toEqual([
      '::notice::notice 1',
      '::notice::notice 2',
      '::notice::notice 3',
    ]);
    // What is not annotated is still in the log, every line of it, and none of it is a command.
    expect(lines).toContain('warning: warning 10');
    expect(lines).toContain('warning: warning 25');
    expect(lines).toContain('error: error 12');
    expect(lines).toContain('error: its second line');
    expect(commandLines(captured).filter((line) => !/^::(warning|error|notice)::/.test(line))).toEqual([]);
  });

  it('adds nothing at the end of a step that stayed within the limit, and a failure is one error annotation', () => {
    capture();
    const logger = createActionsLogger();
    for (let index = 1; index <= 9; index += 1) logger.warning(`warning ${index}`);
    logger.error('Step a: boom');
    logger.finish();
    expect(warningCommands(captured)).toHaveLength(9);
    expect(errorCommands(captured)).toEqual(['Step a: boom']);

    capture();
    const failing = createActionsLogger();
    failing.setSecret('S3cret-in-the-verdict');
    failing.finish('Preflight failed: S3cret-in-the-verdict\n::endgroup::');
    expect(errorCommands(captured)).toEqual(['Preflight failed: ***\n: :endgroup::']);
  });
});
