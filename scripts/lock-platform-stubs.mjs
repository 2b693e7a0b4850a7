// Adds lock-file entries for platform-specific optional packages (other operating systems and
// CPUs) that the lock is missing. Our package registry only serves the packages for the platforms
// it mirrors, so `npm install` cannot resolve the others and leaves them out of
// package-lock.json, and then `npm ci` refuses the lock as out of sync. An entry that names the
// package's os/cpu (read from its name) satisfies `npm ci`, which then skips it on this platform,
// as it would skip the real package.
//
// Run after `npm install` has changed package-lock.json: node scripts/lock-platform-stubs.mjs
// It also rewrites the stubs already there, in the key order npm writes (.ci/run checks that
// `npm install --package-lock-only` leaves the lock file unchanged).
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));

const OS = [
  'android',
  'darwin',
  'win32',
  'freebsd',
  'openbsd',
  'openharmony',
  'netbsd',
  'sunos',
  'aix',
  'linux',
];
const CPU = [
  ['arm64', 'arm64'],
  ['x64', 'x64'],
  ['ia32', 'ia32'],
  ['loong64', 'loong64'],
  ['ppc64', 'ppc64'],
  ['riscv64', 'riscv64'],
  ['s390x', 's390x'],
  ['arm', 'arm'],
];

let added = 0;
for (const pkg of Object.values(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const existing = lock.packages[`node_modules/${name}`];
    if (existing?.integrity) continue; // a real package, resolved by npm
    if (!existing) added++;
    const base = name.split('/').pop();
    const os = OS.find((o) => base.includes(o));
    const cpu = CPU.find(([pattern]) => base.includes(pattern))?.[1];
    if (!os || !cpu) throw new Error(`${name}: cannot tell its platform from its name`);
    // Keys in the order npm itself writes such an entry (version, then the rest alphabetically),
    // so that a later `npm install` leaves the file as it is.
    const entry = { version, cpu: [cpu], dev: true };
    if (base.includes('musl')) entry.libc = ['musl'];
    Object.assign(entry, { optional: true, os: [os] });
    lock.packages[`node_modules/${name}`] = entry;
  }
}
const root = lock.packages[''];
const rest = Object.entries(lock.packages)
  .filter(([k]) => k !== '')
  .sort(([a], [b]) => (a < b ? -1 : 1));
lock.packages = Object.fromEntries([['', root], ...rest]);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
