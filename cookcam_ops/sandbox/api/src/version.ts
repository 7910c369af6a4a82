import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// @cookcam-marker type-error-slot

/** The deployed commit: a REVISION file in cwd, else `git rev-parse HEAD` in cwd, else unknown. */
export function readCommit(cwd: string = process.cwd()): string {
  try {
    const revision = readFileSync(path.join(cwd, 'REVISION'), 'utf8').trim();
    if (revision !== '') {
      return revision;
    }
  } catch {
    // no REVISION file: ask git
  }
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    if (head !== '') {
      return head;
    }
  } catch {
    // not a git checkout, or git is missing
  }
  return 'unknown';
}
