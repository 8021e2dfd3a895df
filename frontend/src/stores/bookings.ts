import { defineStore } from 'pinia'
import { newIdempotencyKey } from '@/api/client'
import { FINAL_STATUSES, type Booking, type BookingStatus } from '@/api/types'
import { services } from '@/services'

export type Sleep = (ms: number) => Promise<void>
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export interface FollowOptions {
  intervalMs?: number
  maxWaitMs?: number
  sleep?: Sleep
  /** The statuses that end the wait (CONFIRMED or CANCELLED for a new booking, CANCELLED for a cancellation). */
  until?: readonly BookingStatus[]
}

export const PAGE_SIZE = 10

export const useBookings = defineStore('bookings', {
  state: () => ({
    items: [] as Booking[],
    nextToken: null as string | null,
    loaded: false,
    byId: {} as Record<string, Booking>,
    /** One key per booking attempt: a retry after a failed request reuses it, so no second booking. */
    attemptKeys: {} as Record<string, string>,
  }),
  getters: {
    hasMore: (state) => state.nextToken !== null,
  },
  actions: {
    async loadFirst(): Promise<void> {
      const page = await services().api.listBookings({ limit: PAGE_SIZE })
      this.items = page.bookings
      this.nextToken = page.nextToken ?? null
      this.loaded = true
    },
    async loadMore(): Promise<void> {
      if (!this.nextToken) return
      const page = await services().api.listBookings({ limit: PAGE_SIZE, nextToken: this.nextToken })
      const known = new Set(this.items.map((b) => b.bookingId))
      this.items.push(...page.bookings.filter((b) => !known.has(b.bookingId)))
      this.nextToken = page.nextToken ?? null
    },
    /** Start a booking; the same flight and card retried keep their Idempotency-Key. */
    async book(flightId: string, paymentToken: string): Promise<string> {
      const attempt = `${flightId}|${paymentToken}`
      const key = (this.attemptKeys[attempt] ??= newIdempotencyKey())
      const accepted = await services().api.createBooking(flightId, paymentToken, key)
      delete this.attemptKeys[attempt]
      return accepted.bookingId
    },
    /** Poll the booking until it reaches a final status; the latest state is in byId meanwhile. */
    async follow(bookingId: string, options: FollowOptions = {}): Promise<Booking> {
      const { intervalMs = 1000, maxWaitMs = 90000, sleep = realSleep, until = FINAL_STATUSES } = options
      let waited = 0
      let delay = intervalMs / 2
      for (;;) {
        const booking = await services().api.getBooking(bookingId)
        this.remember(booking)
        if (until.includes(booking.status) || waited >= maxWaitMs) return booking
        await sleep(delay)
        waited += delay
        delay = Math.min(delay * 1.5, intervalMs * 3)
      }
    },
    async cancel(bookingId: string, options: FollowOptions = {}): Promise<Booking> {
      await services().api.cancelBooking(bookingId)
      return this.follow(bookingId, { ...options, until: ['CANCELLED'] })
    },
    remember(booking: Booking): void {
      this.byId[booking.bookingId] = booking
      const index = this.items.findIndex((b) => b.bookingId === booking.bookingId)
      if (index >= 0) this.items[index] = booking
    },
  },
})
