/** A malformed input row: names the file, the 1-based line and what was wrong. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';

  constructor(
    readonly file: string,
    /** 1-based physical line number (0 when the problem is not tied to a line). */
    readonly line: number,
    readonly reason: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}

/** What a load did besides producing the dataset. */
export interface LoadReport {
  /** Malformed rows skipped (only with `lenient: true`; otherwise the first one throws). */
  skipped: number;
  /** Messages of the first skipped rows (at most MAX_REPORTED_ERRORS), "file:line: reason". */
  firstErrors: string[];
  /**
   * Ratings whose movie id is not in the catalogue. They are kept (the interaction is still real
   * data, and MovieLens' own files never contain them), only counted here and in `warnings`.
   */
  unknownMovieRatings: number;
  /** Non-fatal notes: missing optional files, incomplete folds, unknown movies. */
  warnings: string[];
}

export const MAX_REPORTED_ERRORS = 20;

export function emptyReport(): LoadReport {
  return { skipped: 0, firstErrors: [], unknownMovieRatings: 0, warnings: [] };
}

/** Either throws the error (strict) or records it in the report (lenient). */
export class ErrorSink {
  constructor(
    readonly report: LoadReport,
    readonly lenient: boolean,
  ) {}

  fail(file: string, line: number, reason: string): void {
    const err = new DataFormatError(file, line, reason);
    if (!this.lenient) throw err;
    this.report.skipped++;
    if (this.report.firstErrors.length < MAX_REPORTED_ERRORS) this.report.firstErrors.push(err.message);
  }
}
