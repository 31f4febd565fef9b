/**
 * Follows a file that another process appends to (a server's console, which the server writes itself so that it can
 * outlive apim-migrate): reads what was appended since the last read, poll by poll, and hands over each complete
 * line. A last line without its line break is held until it is finished, or handed over when the following ends.
 * Bytes are decoded as UTF-8 across reads, so a character split between two reads stays whole.
 */
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** A line that never ends (a runaway writer) is handed over in pieces of this many characters. */
const MAX_LINE_CHARS = 1_000_000;
const READ_BYTES = 64 * 1024;

export interface FollowFileOptions {
  file: string;
  /** The byte offset to start at: the file's size before the writer started, so that older runs' lines are skipped. */
  from: number;
  /** Each line, without its line break (`\n` or `\r\n`). */
  onLine(line: string): void;
  /** A read that failed; the following goes on at the next poll. */
  onError?(error: unknown): void;
  /** How often the file is read; default 100 ms. */
  pollMs?: number;
}

export interface FileFollower {
  /** Reads what has been appended since the last read, now; resolves once its lines are handed over. */
  readNow(): Promise<void>;
  /** Reads the rest, hands over an unfinished last line, and stops following. Later calls do nothing. */
  close(): Promise<void>;
}

export async function followFile(options: FollowFileOptions): Promise<FileFollower> {
  const handle = await open(options.file, 'r');
  const decoder = new StringDecoder('utf8');
  const buffer = Buffer.alloc(READ_BYTES);
  let position = options.from;
  let partial = '';
  let closed = false;

  const emit = (text: string): void => {
    partial += text;
    let start = 0;
    for (let end = partial.indexOf('\n'); end !== -1; end = partial.indexOf('\n', start)) {
      const line = partial.slice(start, end);
      start = end + 1;
      options.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    partial = partial.slice(start);
    while (partial.length > MAX_LINE_CHARS) {
      options.onLine(partial.slice(0, MAX_LINE_CHARS));
      partial = partial.slice(MAX_LINE_CHARS);
    }
  };

  const readAppended = async (): Promise<void> => {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      emit(decoder.write(buffer.subarray(0, bytesRead)));
    }
  };

  // One read at a time, in order: a poll and an explicit readNow never interleave their lines.
  let reading: Promise<void> = Promise.resolve();
  const readNow = (): Promise<void> => {
    if (closed) return reading;
    reading = reading.then(readAppended).catch((error: unknown) => options.onError?.(error));
    return reading;
  };

  const timer = setInterval(() => void readNow(), options.pollMs ?? 100);
  // The writer and the caller's own timers decide how long this process lives, not the poll.
  timer.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(timer);
      await readNow();
      closed = true;
      emit(decoder.end());
      if (partial !== '') options.onLine(partial.endsWith('\r') ? partial.slice(0, -1) : partial);
      partial = '';
      await handle.close();
    })();
    return closing;
  };

  return { readNow, close };
}
