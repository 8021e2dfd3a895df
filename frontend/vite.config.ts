import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import { quasar, transformAssetUrls } from '@quasar/vite-plugin'

// The app reads its settings from /config.json at start (written from the deployment),
// so one build serves every stage.
export default defineConfig({
  plugins: [vue({ template: { transformAssetUrls } }), quasar()],
  // amazon-cognito-identity-js refers to Node's `global`.
  define: { global: 'globalThis' },
  resolve: { alias: { '@': decodeURIComponent(new URL('./src', import.meta.url).pathname) } },
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
})
