import { createApp, h } from 'vue'
import { createPinia } from 'pinia'
import { Quasar, Notify } from 'quasar'
import '@quasar/extras/material-icons/material-icons.css'
import 'quasar/dist/quasar.css'
import App from './App.vue'
import { ApiClient } from './api/client'
import { CognitoAuth } from './auth/cognito'
import { loadConfig } from './config'
import { router } from './router'
import { setServices } from './services'
import { useAuth } from './stores/auth'

async function start(): Promise<void> {
  let config
  try {
    config = await loadConfig()
  } catch {
    createApp({ render: () => h('main', { role: 'alert', style: 'padding:2rem;font-family:sans-serif' }, 'The app could not load its settings. Please reload the page in a moment.') }).mount('#app')
    return
  }
  const auth = new CognitoAuth(config)
  setServices({ auth, api: new ApiClient(config.apis, (refresh) => auth.accessToken(refresh)) })
  const app = createApp(App)
  app.use(createPinia())
  app.use(Quasar, { plugins: { Notify } })
  await useAuth().restore()
  app.use(router)
  await router.isReady()
  app.mount('#app')
  if (config.rum) {
    const rum = config.rum
    // Real-user monitoring (AWS only): loaded after the app is interactive, never in the first bundle.
    void import('./rum').then(({ startRum }) => startRum(rum)).catch(() => undefined)
  }
}

void start()
