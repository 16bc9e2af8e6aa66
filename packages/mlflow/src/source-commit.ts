/**
 * The commit of the Netflicks code that trained a model, for MLflow's `mlflow.source.git.commit`
 * tag: NETFLICKS_GIT_COMMIT when set (images carry it as a build argument), else the checkout this
 * module runs from (a source install), else unknown.
 */
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMIT = /^[0-9a-f]{40}$/;

export function sourceCommit(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = env.NETFLICKS_GIT_COMMIT?.trim();
  if (given) return given;
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: dirname(fileURLToPath(import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
      env: { ...process.env, PATH: env.PATH ?? process.env.PATH },
    }).trim();
    return COMMIT.test(out) ? out : undefined;
  } catch {
    return undefined; // no git, or not a checkout (an image built without the argument)
  }
}
