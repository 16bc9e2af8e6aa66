import { execFileSync } from 'node:child_process';
import { sourceCommit } from '../src/source-commit.js';

describe('sourceCommit', () => {
  test('NETFLICKS_GIT_COMMIT wins (images carry it)', () => {
    expect(sourceCommit({ NETFLICKS_GIT_COMMIT: ' 0123456789abcdef0123456789abcdef01234567 ' })).toBe('0123456789abcdef0123456789abcdef01234567');
  });

  test('from a checkout without the variable: the commit of the code that runs', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(sourceCommit({})).toBe(head);
  });

  test('outside a checkout and without git: unknown, never an error', () => {
    expect(sourceCommit({ PATH: '/nonexistent' })).toBeUndefined();
  });
});
