/**
 * The package as a user gets it: `npm pack` of a copy of the working tree (built there, so the
 * repository's own dist/ is never touched while other tests run), cached by the content of the
 * files that go into it, and installed with npm into a fresh project folder.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = resolve(import.meta.dirname, '..');
/** Under node_modules, so that a project made here finds the repository's dev dependencies. */
export const CACHE = join(ROOT, 'node_modules', '.cache', 'optax-ts-pack');

/** What `npm pack --json` reports. */
export interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

/** The working tree's files as git sees them (tracked, plus untracked ones not ignored). */
async function treeFiles(): Promise<string[]> {
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: ROOT, maxBuffer: 1 << 24 },
  );
  return stdout
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
}

async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(CACHE, `${name}.lock`);
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than four minutes belongs to a run that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 240_000)
        rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited too long for ${lock}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds and packs a copy of the working tree, once per content: returns the tarball's path and
 * npm's report of what it holds.
 */
export async function packed(): Promise<{ tarball: string; info: PackInfo }> {
  mkdirSync(CACHE, { recursive: true });
  const files = await treeFiles();
  const hash = createHash('sha256');
  for (const f of files.sort())
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(ROOT, f)));
  const key = hash.digest('hex').slice(0, 16);
  const tarball = join(CACHE, `optax-ts-${key}.tgz`);
  const infoPath = join(CACHE, `optax-ts-${key}.json`);
  return withLock('pack', async () => {
    if (existsSync(tarball) && existsSync(infoPath))
      return { tarball, info: JSON.parse(readFileSync(infoPath, 'utf8')) as PackInfo };
    // Tarballs of earlier working trees are not needed again.
    for (const f of readdirSync(CACHE))
      if (/^optax-ts-[0-9a-f]{16}\.(tgz|json)$/.test(f)) rmSync(join(CACHE, f), { force: true });
    const copy = mkdtempSync(join(CACHE, 'tree-'));
    try {
      for (const f of files) cpSync(join(ROOT, f), join(copy, f));
      // The build script as package.json has it (the `prepare` script runs it on git installs).
      await run('npm', ['run', 'build', '--silent'], { cwd: copy });
      const out = mkdtempSync(join(CACHE, 'out-'));
      const { stdout } = await run(
        'npm',
        ['pack', '--json', '--ignore-scripts', '--pack-destination', out],
        { cwd: copy, maxBuffer: 1 << 24 },
      );
      const info = (JSON.parse(stdout) as PackInfo[])[0]!;
      writeFileSync(infoPath, JSON.stringify(info));
      renameSync(join(out, info.filename), tarball);
      rmSync(out, { recursive: true, force: true });
      return { tarball, info };
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
}

/**
 * A new project folder (under node_modules/.cache, so that dev dependencies such as TF.js resolve
 * from the repository) with the packed optax-ts installed by npm. The caller removes it.
 */
export async function installPacked(prefix: string): Promise<{ dir: string; info: PackInfo }> {
  const { tarball, info } = await packed();
  const dir = mkdtempSync(join(CACHE, `${prefix}-`));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `${prefix}-consumer`, private: true, type: 'module' })}\n`,
  );
  await run(
    'npm',
    [
      'install',
      '--offline',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--ignore-scripts',
      '--loglevel=error',
      tarball,
    ],
    { cwd: dir },
  );
  return { dir, info };
}
