/**
 * Small RFC-4180 reader for the catalogue-sized CSV files (movies.csv, tags.csv): quoted fields
 * with separators, "" escapes and line breaks inside quotes, CRLF or LF, a leading BOM, blank
 * lines skipped. Ratings use the byte-level reader instead (ratings-reader.ts).
 */

export interface CsvHandlers {
  /** One record; `line` is the 1-based physical line it starts on. */
  record(fields: string[], line: number): void;
  /** A record that cannot be parsed; the reader resumes at the next line. */
  error(line: number, reason: string): void;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;

export function parseCsv(text: string, handlers: CsvHandlers, separator = ','): void {
  if (separator.length !== 1) throw new RangeError('CSV separator must be one character');
  const sep = separator.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;

  /** At a line end (or EOF)? Consumes it and returns true. */
  const atLineEnd = (): boolean => {
    if (i >= n) return true;
    const c = text.charCodeAt(i);
    if (c === LF) {
      i++;
      line++;
      return true;
    }
    if (c === CR && (i + 1 >= n || text.charCodeAt(i + 1) === LF)) {
      i += 2;
      line++;
      return true;
    }
    return false;
  };

  const skipToNextLine = (): void => {
    const nl = text.indexOf('\n', i);
    i = nl < 0 ? n : nl + 1;
    line++;
  };

  while (i < n) {
    const recordLine = line;
    const fields: string[] = [];
    let error: string | null = null;
    for (;;) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        let value = '';
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            error = 'unterminated quoted field';
            i = n;
            break;
          }
          const part = text.slice(i, q);
          value += part;
          for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        if (error !== null) break;
        fields.push(value);
        if (i < n && text.charCodeAt(i) === sep) {
          i++;
          continue;
        }
        if (atLineEnd()) break;
        error = `unexpected ${JSON.stringify(text[i])} after a closing quote`;
        skipToNextLine();
        break;
      }
      let j = i;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (c === sep || c === LF || (c === CR && (j + 1 >= n || text.charCodeAt(j + 1) === LF))) break;
      }
      fields.push(text.slice(i, j));
      i = j;
      if (i < n && text.charCodeAt(i) === sep) {
        i++;
        continue;
      }
      atLineEnd();
      break;
    }
    if (error !== null) handlers.error(recordLine, error);
    else if (!(fields.length === 1 && fields[0].trim() === '')) handlers.record(fields, recordLine);
  }
}

/** Parses a positive integer id field; NaN when it is not one. */
export function parseId(field: string): number {
  const s = field.trim();
  return /^\d{1,10}$/.test(s) && Number(s) <= 2147483647 ? Number(s) : NaN;
}
