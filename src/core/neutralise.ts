/**
 * Text that came from outside (a server, a database, a kit, a backup) made safe to print, line by line: it can no
 * longer give the Actions runner a workflow command, nor a terminal an escape sequence. The runner reads a command
 * from any line that holds `##[` and from any line that starts with `::` once leading whitespace is trimmed
 * (actions/runner, src/Runner.Common/ActionCommand.cs, TryParse and TryParseV2); docs/security.md has the details.
 */

/** Line breaks as the runner (.NET ReadLine: CR, LF, CRLF) and Unicode know them. */
const LINE_BREAK = /\r\n|[\r\n\u0085\u2028\u2029]/;

/**
 * Terminal escape sequences, removed whole: CSI (`ESC [` ... final byte, also the 8-bit CSI), OSC, DCS, PM and APC
 * strings (to BEL or `ESC \`), and the other two-character escapes.
 */
const ESCAPE_SEQUENCE =
  /\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\u001b[\]PX^_][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]/g;

/**
 * Invisible characters that culture-sensitive comparisons skip (the runner's IndexOf and StartsWith are), so
 * `#\u200b#[` could still read as `##[`: removed.
 */
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/** Every other control character but tab (C0, DEL, C1), shown as U+FFFD. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Neutralises each line of `text` and joins them with `\n`: no terminal escape sequences, no control characters
 * but tab, no invisible ignorable characters, `##[` written as `# #[` and a leading `::` (after whitespace) as `: :`.
 * Ordinary text comes out unchanged, and neutralised text stays as it is when neutralised again.
 */
export function neutraliseText(text: string): string {
  return text.split(LINE_BREAK).map(neutraliseLine).join('\n');
}

function neutraliseLine(line: string): string {
  return line
    .replace(ESCAPE_SEQUENCE, '')
    .replace(IGNORABLE, '')
    .replace(CONTROL, '\ufffd')
    .replaceAll('##[', '# #[')
    .replace(/^(\s*)::/u, '$1: :');
}
