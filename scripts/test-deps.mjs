#!/usr/bin/env node
// Installs the system packages the test suite needs (npm `pretest`), idempotently.
//
// - radosgw, ceph-mon, ceph-osd (+ curl): the real S3 server the S3 adapter's contract suite runs
//   against (scripts/local-s3/rgw.sh).
// - chromium: /usr/bin/chromium for the browser tests (playwright-core drives the system browser,
//   because nothing may download a browser build of its own).
//
// When everything is installed it only asks dpkg once and returns (tens of milliseconds). Otherwise
// it runs apt-get install (root, or sudo without a password), with `apt-get update` first only when
// the package lists do not know a package, and once more if the install fails on stale lists.
// It fails with a plain message when it cannot install (no apt, not root). It never removes anything.
//
//   node scripts/test-deps.mjs            install what is missing
//   node scripts/test-deps.mjs --check    only report; exit 1 when something is missing
//
// GOLDGATE_TEST_DEPS=skip skips it entirely (for machines set up some other way; the suites that
// need a package then fail with their own message).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Each Debian package the suite needs, and who needs it. */
const PACKAGES = [
  { name: 'radosgw', for: 'S3 contract suite (Ceph RADOS Gateway)' },
  { name: 'ceph-mon', for: 'S3 contract suite (Ceph monitor)' },
  { name: 'ceph-osd', for: 'S3 contract suite (Ceph OSD, memstore)' },
  { name: 'curl', for: 'scripts/local-s3/rgw.sh readiness checks' },
  { name: 'chromium', for: 'browser tests (/usr/bin/chromium)' },
];

// Wait for another apt/dpkg run (another engineer, unattended upgrades) instead of failing at once.
const APT_OPTS = ['-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600'];

const started = process.hrtime.bigint();
const say = (line) => process.stderr.write(`[test-deps] ${line}\n`);
const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;

function fail(message) {
  say(`ERROR: ${message}`);
  process.exit(1);
}

/** The packages dpkg does not list as fully installed. */
function missingPackages() {
  const names = PACKAGES.map((p) => p.name);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not a template
  const format = '-f=${Package} ${db:Status-Abbrev}\\n';
  const r = spawnSync('dpkg-query', ['-W', format, ...names], {
    encoding: 'utf8',
  });
  if (r.error) return undefined; // no dpkg at all
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, status]) => status === 'ii')
      .map(([name]) => name),
  );
  return PACKAGES.filter((p) => !installed.has(p.name));
}

function hasCandidate(name) {
  const r = spawnSync('apt-cache', ['policy', name], { encoding: 'utf8' });
  return /Candidate: (?!\(none\))\S+/.test(r.stdout ?? '');
}

function run(argv, env) {
  say(`$ ${argv.join(' ')}`);
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', process.stderr, process.stderr],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...env },
  });
  if (r.error) return false;
  return r.status === 0;
}

if (process.env.GOLDGATE_TEST_DEPS === 'skip') {
  say('GOLDGATE_TEST_DEPS=skip: not checking system packages');
  process.exit(0);
}

const checkOnly = process.argv.includes('--check');
if (process.platform !== 'linux') {
  fail(
    `the test suite needs Debian packages (${PACKAGES.map((p) => p.name).join(' ')}); ` +
      `this is ${process.platform}. Run the tests on Debian/Ubuntu, or set GOLDGATE_TEST_DEPS=skip.`,
  );
}

const missing = missingPackages();
if (missing === undefined) {
  fail(
    `dpkg-query not found: this is not a Debian-like system. Install ${PACKAGES.map((p) => p.name).join(' ')} ` +
      'yourself, or set GOLDGATE_TEST_DEPS=skip.',
  );
}
if (missing.length === 0) {
  say(`all present (${PACKAGES.map((p) => p.name).join(', ')}) - ${elapsed()}`);
  process.exit(0);
}
for (const p of missing) say(`missing: ${p.name} - needed by ${p.for}`);
if (checkOnly) process.exit(1);

const names = missing.map((p) => p.name);
if (!existsSync('/usr/bin/apt-get')) {
  fail(`apt-get not found; install ${names.join(' ')} with your package manager.`);
}
let prefix = [];
if (process.getuid?.() !== 0) {
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  if (sudo.error || sudo.status !== 0) {
    fail(`not root and no password-less sudo: run \`sudo apt-get install ${names.join(' ')}\` once.`);
  }
  prefix = ['sudo', '-n', '--preserve-env=DEBIAN_FRONTEND'];
}

say(`installing ${names.join(' ')} (a fresh machine takes a few minutes)`);
const unknown = names.filter((name) => !hasCandidate(name));
if (unknown.length > 0) {
  say(`the package lists do not know ${unknown.join(' ')}: apt-get update first`);
  if (!run([...prefix, 'apt-get', 'update', '-q'])) fail('apt-get update failed (see above)');
}
if (!run([...prefix, 'apt-get', 'install', ...APT_OPTS, ...names])) {
  // A 404 on a package file means the lists were stale: refresh once and retry.
  say('install failed; apt-get update and one more try');
  if (!run([...prefix, 'apt-get', 'update', '-q'])) fail('apt-get update failed (see above)');
  if (!run([...prefix, 'apt-get', 'install', ...APT_OPTS, ...names])) {
    fail(`apt-get install ${names.join(' ')} failed (see above)`);
  }
}
const still = missingPackages() ?? missing;
if (still.length > 0) fail(`still missing after install: ${still.map((p) => p.name).join(' ')}`);
say(`installed ${names.join(', ')} in ${elapsed()}`);
