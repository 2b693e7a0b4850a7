// Runs examples/quadratic.ts (its import rewritten to 'optax-ts') and keeps what it prints.
const lines = [];
const log = console.log;
console.log = (...args) => {
  lines.push(args.join(' '));
  log(...args);
};
try {
  await import('./quadratic.ts');
  window.__result = `${lines.join('\n')}\n`;
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
