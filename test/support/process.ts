/** Runs a command for a test: output captured, stdin fed, killed after a timeout, never throws on a non-zero exit. */
import { spawn } from 'node:child_process';

export interface ProcessResult {
  /** The exit code (1 when killed by a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  /** Written to the command's stdin. */
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long. */
  timeoutMs: number;
}

export function runProcess(cmd: string, args: string[], opts: ProcessOptions): Promise<ProcessResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(new Error(`cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? 1, stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading all of stdin
    child.stdin.end(opts.input ?? '');
  });
}
