/** Types of test-run.js (plain JavaScript, shared with the jest global setup, teardown and reporter). */

export declare const RUN_DIR_ENV: 'NETFLICKS_TEST_RUN_DIR';
export declare const TEST_PG_INSTANCE: string;
export declare const TEST_PG_LEASE_KEY: string;

export interface SkipRecord {
  /** Test file, relative to the repository root. */
  file: string;
  /** The suite's name. */
  suite: string;
  /** What it needs, e.g. "a Kubernetes test cluster". */
  needs: string;
  /** The command (or setting) that provides it, e.g. "npm run cluster:up". */
  enable: string;
  /** Why it is not available now. */
  reason: string;
}

export interface StartedPostgres {
  dataDir: string;
  port: number;
}

export declare function runDir(env?: NodeJS.ProcessEnv): string | undefined;
export declare function kafkaRunDir(dir: string): string;
export declare function isCi(env?: NodeJS.ProcessEnv): boolean;
export declare function recordSkip(dir: string, record: SkipRecord): void;
export declare function readSkips(dir: string): SkipRecord[];
export declare function recordPostgresStarted(dir: string, server: StartedPostgres): void;
export declare function readPostgresStarted(dir: string): StartedPostgres | undefined;
