import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { quasar, transformAssetUrls } from '@quasar/vite-plugin'

// The app reads its settings from /config.json at start (written from the deployment),
// so one build serves every stage.
export default defineConfig({
  plugins: [vue({ template: { transformAssetUrls } }), quasar()],
  // amazon-cognito-identity-js refers to Node's `global`.
  define: { global: 'globalThis' },
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  build: { target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 600 },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
})
