/** An error whose message is meant for the user as is: printed on one line, no stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the command has already reported (e.g. the trainer's JSON summary): exit quietly. */
export class ReportedFailure extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ReportedFailure';
  }
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
};

/** A file-system error in the CLI's words ("PATH: no such file or folder"), or undefined for other errors. */
export function describeFileError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const problem = e?.code === undefined ? undefined : FILE_PROBLEMS[e.code];
  if (!problem || e?.syscall === undefined) return undefined;
  return e.path === undefined ? `${problem} (${e.syscall})` : `${e.path}: ${problem}`;
}
