import { defineStore } from 'pinia'
import type { SignedInUser } from '@/auth/cognito'
import { services } from '@/services'

export const useAuth = defineStore('auth', {
  state: () => ({ user: null as SignedInUser | null, restored: false }),
  getters: {
    signedIn: (state) => state.user !== null,
    isAdmin: (state) => state.user?.groups.includes('Admin') ?? false,
  },
  actions: {
    async restore(): Promise<void> {
      this.user = await services().auth.restore()
      this.restored = true
    },
    async signIn(email: string, password: string): Promise<void> {
      this.user = await services().auth.signIn(email.trim().toLowerCase(), password)
    },
    async signUp(email: string, password: string): Promise<void> {
      await services().auth.signUp(email.trim().toLowerCase(), password)
    },
    async confirm(email: string, code: string): Promise<void> {
      await services().auth.confirm(email.trim().toLowerCase(), code.trim())
    },
    async resendCode(email: string): Promise<void> {
      await services().auth.resendCode(email.trim().toLowerCase())
    },
    signOut(): void {
      services().auth.signOut()
      this.user = null
    },
  },
})
