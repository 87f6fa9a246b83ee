import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// keepDistMarker recreates dist/.keep after every build. Vite empties dist/
// before writing, but the Go binary embeds dist/ with go:embed, which fails on
// an empty or missing folder, so the committed marker must survive builds.
function keepDistMarker(): Plugin {
  return {
    name: 'filmroom-keep-dist-marker',
    apply: 'build',
    closeBundle() {
      writeFileSync(resolve(__dirname, 'dist/.keep'), '');
    },
  };
}

export default defineConfig({
  plugins: [svelte(), keepDistMarker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Hashed file names under assets/ let the server cache them for a year;
    // only index.html must be revalidated.
    assetsDir: 'assets',
  },
  server: {
    // `npm run dev` proxies the API to a locally running `filmroom serve`.
    proxy: {
      // ws: live review rooms are websockets under /api.
      '/api': { target: process.env.FILMROOM_API ?? 'http://127.0.0.1:8080', ws: true },
      '/readyz': process.env.FILMROOM_API ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    // Runes in .svelte.ts files need the Svelte compiler, loaded via plugins above.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['src/**/*.test.ts'], exclude: ['src/**/*.component.test.ts'], environment: 'node' },
      },
      {
        // Component tests mount real Svelte components in a DOM (happy-dom),
        // which needs Svelte's browser build.
        extends: true,
        resolve: { conditions: ['browser'] },
        test: { name: 'components', include: ['src/**/*.component.test.ts'], environment: 'happy-dom' },
      },
    ],
  },
});
