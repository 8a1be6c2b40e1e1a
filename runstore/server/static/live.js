// Following a growing store file: only the bytes after `offset` are read, every `every` ms, and only
// whole lines are handed on (a torn last line waits for the next read). Never a whole file again.

import { tail, jsonLines } from "./api.js";

export class Follow {
  // onRows(rows) for JSON lines, or onText(text) for a log
  constructor(url, offset, { onRows, onText, every = 1000 } = {}) {
    this.url = url;
    this.offset = offset || 0;
    this.onRows = onRows;
    this.onText = onText;
    this.every = every;
    this.stopped = false;
    this.decoder = new TextDecoder();  // a character cut in two by a read is joined on the next
    this.timer = setTimeout(() => this.poll(), every);
  }

  async poll() {
    if (this.stopped) return;
    try {
      const { bytes, size } = await tail(this.url, this.offset);
      if (size < this.offset) {
        this.offset = size;  // replaced by a shorter file (a rewind): follow it from its end
      } else if (bytes.length) {
        if (this.onRows) {
          const { rows, used } = jsonLines(bytes);
          this.offset += used;
          if (rows.length) this.onRows(rows);
        } else {
          this.offset += bytes.length;
          this.onText(this.decoder.decode(bytes, { stream: true }));
        }
      }
    } catch (_) { /* the server went away for a moment: try again next time */ }
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), this.every);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
