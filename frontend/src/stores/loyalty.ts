import { defineStore } from 'pinia'
import type { Loyalty, Tier } from '@/api/types'
import { services } from '@/services'

export const TIER_FLOORS: Record<Tier, number> = { bronze: 0, silver: 50000, gold: 100000 }

/** Share of the way from the current tier's floor to the next tier (1 at gold). */
export function progress(loyalty: Loyalty): number {
  if (loyalty.nextTier === null || loyalty.pointsToNextTier === null) return 1
  const floor = TIER_FLOORS[loyalty.tier]
  const span = TIER_FLOORS[loyalty.nextTier] - floor
  return span <= 0 ? 1 : Math.min(1, Math.max(0, (loyalty.points - floor) / span))
}

export const useLoyalty = defineStore('loyalty', {
  state: () => ({ loyalty: null as Loyalty | null }),
  getters: {
    progress: (state) => (state.loyalty ? progress(state.loyalty) : 0),
  },
  actions: {
    async load(): Promise<void> {
      this.loyalty = await services().api.getLoyalty()
    },
  },
})
