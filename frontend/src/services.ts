// The app's adapters, built once from config.json; stores reach them here (tests set fakes).
import type { ApiClient } from '@/api/client'
import type { AuthPort } from '@/auth/cognito'

export interface Services {
  api: ApiClient
  auth: AuthPort
}

let current: Services | null = null

export function setServices(services: Services): void {
  current = services
}

export function services(): Services {
  if (!current) throw new Error('the app is not configured yet')
  return current
}
