import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuth } from './stores/auth'
import SearchPage from './pages/SearchPage.vue'
import SignInPage from './pages/SignInPage.vue'

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'search', component: SearchPage, meta: { title: 'Search flights' } },
  { path: '/signin', name: 'signin', component: SignInPage, meta: { public: true, title: 'Sign in' } },
  { path: '/signup', name: 'signup', component: () => import('./pages/SignUpPage.vue'), meta: { public: true, title: 'Create an account' } },
  { path: '/book/:flightId', name: 'book', component: () => import('./pages/BookPage.vue'), meta: { title: 'Book' } },
  { path: '/bookings', name: 'bookings', component: () => import('./pages/BookingsPage.vue'), meta: { title: 'My bookings' } },
  { path: '/bookings/:bookingId', name: 'booking', component: () => import('./pages/BookingPage.vue'), meta: { title: 'Booking' } },
  { path: '/loyalty', name: 'loyalty', component: () => import('./pages/LoyaltyPage.vue'), meta: { title: 'My points' } },
  { path: '/admin', name: 'admin', component: () => import('./pages/AdminPage.vue'), meta: { admin: true, title: 'Flights (staff)' } },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach((to) => {
  const auth = useAuth()
  if (!to.meta.public && !auth.signedIn) return { name: 'signin', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.admin && !auth.isAdmin) return { name: 'search' }
  return true
})

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? 'Airline')} · Airline`
})
