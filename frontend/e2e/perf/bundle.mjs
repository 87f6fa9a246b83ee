// Which script files a page loads, read from the build output (dist/): the
// entry chunk and its static imports, the page's chunk with the shared
// chunks Vite preloads with it (its __vite__mapDeps list), their static
// imports, their dynamic imports (hls.js) and the worker they point at by
// URL. Sizes are gzip at zlib's default level, as Vite's build report shows
// them. Run directly: `node e2e/perf/bundle.mjs [Page]` (default Review).

import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
/** distDir is the build output the Go binary embeds. */
export const distDir = resolve(here, '..', '..', 'dist');

/** gzipSize is the gzip size of a buffer (zlib default level, like Vite's report). */
export function gzipSize(buf) {
  return gzipSync(buf).length;
}

/**
 * pageScripts lists the script files (names under assets/) that opening a
 * page fetches, following the build's import graph from index.html.
 * `page` is the page chunk's name without hash (Review, Library, …).
 */
export function pageScripts(page = 'Review', dist = distDir) {
  const assets = join(dist, 'assets');
  const files = readdirSync(assets);
  const read = (f) => readFileSync(join(assets, f), 'utf8');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const entry = [...html.matchAll(/<script[^>]+src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
  if (entry.length === 0) throw new Error('dist/index.html has no module script: build first (npm run build)');
  const pageFile = files.find((f) => f.startsWith(`${page}-`) && f.endsWith('.js'));
  if (!pageFile) throw new Error(`no ${page}-*.js chunk in dist/assets`);

  const seen = new Set();
  // dynamic: also follow import("./x.js") and worker URLs (chunks that run
  // for this page); the entry's dynamic imports are other pages, not followed.
  const visit = (f, dynamic) => {
    if (seen.has(f)) return;
    seen.add(f);
    const src = read(f);
    for (const m of src.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) visit(m[1], dynamic);
    if (!dynamic) return;
    for (const m of src.matchAll(/import\(\s*"\.\/([^"]+\.js)"\s*\)/g)) visit(m[1], true);
    for (const m of src.matchAll(/"\/?assets\/([^"]+\.worker[^"]*\.js)"/g)) seen.add(m[1]);
  };
  for (const f of entry) visit(f, false);
  // The entry's map of preloaded dependencies: the page's own list.
  const main = read(entry[0]);
  const list = main.match(/m\.f\|\|\(m\.f=(\[[^\]]*\])\)/);
  if (list) {
    const deps = JSON.parse(list[1]).map((p) => basename(p));
    const at = deps.indexOf(pageFile);
    for (const m of main.matchAll(/__vite__mapDeps\(\[([\d,]+)\]\)/g)) {
      const idx = m[1].split(',').map(Number);
      if (idx[0] !== at) continue;
      for (const i of idx) if (deps[i].endsWith('.js')) visit(deps[i], true);
    }
  }
  visit(pageFile, true);
  return [...seen].filter((f) => files.includes(f));
}

/** sizes returns [{file, bytes, gzip}] for files under dist/assets, largest first. */
export function sizes(files, dist = distDir) {
  return files
    .map((file) => {
      const buf = readFileSync(join(dist, 'assets', file));
      return { file, bytes: buf.length, gzip: gzipSize(buf) };
    })
    .sort((a, b) => b.gzip - a.gzip);
}

const kb = (n) => (n / 1000).toFixed(1);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const page = process.argv[2] ?? 'Review';
  const rows = sizes(pageScripts(page));
  for (const r of rows) console.log(`${r.file.padEnd(36)} ${kb(r.bytes).padStart(7)} kB  gzip ${kb(r.gzip).padStart(6)} kB`);
  const total = rows.reduce((s, r) => s + r.gzip, 0);
  console.log(`${page}: ${rows.length} script files, ${kb(total)} kB gzipped in all (worker included)`);
}
