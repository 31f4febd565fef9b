import { describe, expect, it } from 'vitest';
import { neutraliseText } from '../../src/core/neutralise.js';
import { commandLines } from '../helpers/runner.js';

describe('neutraliseText', () => {
  it.each([
    ['##[set-output name=x]y', '# #[set-output name=x]y'],
    ['API {name: ##[set-output name=x]y}', 'API {name: # #[set-output name=x]y}'],
    ['###[error]x', '## #[error]x'],
    ['::add-mask::hidden', ': :add-mask::hidden'],
    ['::stop-commands::tok', ': :stop-commands::tok'],
    ['   \t::warning::x', '   \t: :warning::x'],
    ['\u00a0\u3000::error::x', '\u00a0\u3000: :error::x'],
    ['a :: in the middle stays', 'a :: in the middle stays'],
    ['\u001b[31mred\u001b[0m and \u001b[1;4mbold\u001b[m', 'red and bold'],
    ['\u001b[2J\u001b[Hscreen cleared', 'screen cleared'],
    ['\u001b]8;;https://example.com\u0007link\u001b]8;;\u0007', 'link'],
    ['\u001b]0;title\u001b\\text', 'text'],
    ['\u001bcreset', 'reset'],
    ['\u009b31mC1 CSI', 'C1 CSI'],
    ['bell\u0007 and NUL\u0000', 'bell\ufffd and NUL\ufffd'],
    ['DEL\u007f and C1\u0090', 'DEL\ufffd and C1\ufffd'],
    ['tab\tstays', 'tab\tstays'],
    ['#\u200b#[set-output name=x]y', '# #[set-output name=x]y'],
    ['\u200b::add-mask::x', ': :add-mask::x'],
    [':\u00ad:add-mask::x', ': :add-mask::x'],
    ['#\ufe0f#[debug]x', '# #[debug]x'],
    ['\u001b[0m::add-mask::x', ': :add-mask::x'],
    [
      'plain text, unchanged: WSO2 API-M Migration Task : done',
      'plain text, unchanged: WSO2 API-M Migration Task : done',
    ],
  ])('%j → %j', (text, expected) => {
    expect(neutraliseText(text)).toBe(expected);
  });

  it('works line by line, with every line break the runner knows, and joins with LF', () => {
    expect(neutraliseText('ok\r::add-mask::a\r\n::stop-commands::b\nend')).toBe(
      'ok\n: :add-mask::a\n: :stop-commands::b\nend',
    );
    expect(neutraliseText('x\u2028::add-mask::a\u0085::error::b')).toBe('x\n: :add-mask::a\n: :error::b');
  });

  it('leaves nothing the runner would act on, nor any escape or control character but tab', () => {
    const hostile = [
      '##[set-output name=x]y',
      '::add-mask::secret-word',
      '  ::stop-commands::tok',
      'text\r::error::spoofed',
      '\u001b[1A\u001b[2K[2026-01-01 00:00:00,000]  INFO - APIMMigrationClient done',
      '#\u2060#[group]x',
      ':\u200d:endgroup::',
    ].join('\n');
    const out = neutraliseText(hostile);
    expect(commandLines(out)).toEqual([]);
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(out.split('\n')).toHaveLength(8);
  });

  it('is idempotent', () => {
    const once = neutraliseText('##[x]\n::y::\n\u001b[31m#\u200b#[z\u0007');
    expect(neutraliseText(once)).toBe(once);
  });
});
