import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { ApiClient } from '@/api/client'
import type { AuthPort } from '@/auth/cognito'
import type { Booking, BookingStatus } from '@/api/types'
import { setServices } from '@/services'
import { useAuth } from './auth'
import { useBookings } from './bookings'
import { progress, useLoyalty } from './loyalty'

function booking(status: BookingStatus, extra: Partial<Booking> = {}): Booking {
  return {
    bookingId: 'b-1',
    customerId: 'c-1',
    flightId: 'f-1',
    status,
    price: { amount: 12050, currency: 'EUR' },
    createdAt: '2026-11-29T10:00:00Z',
    updatedAt: '2026-11-29T10:00:00Z',
    refunded: false,
    ...extra,
  }
}

function fakeAuth(): AuthPort {
  return {
    signUp: vi.fn(async () => undefined),
    confirm: vi.fn(async () => undefined),
    resendCode: vi.fn(async () => undefined),
    signIn: vi.fn(async (email: string) => ({ email, sub: 's-1', groups: email.startsWith('staff') ? ['Admin'] : [] })),
    signOut: vi.fn(),
    restore: vi.fn(async () => null),
    accessToken: vi.fn(async () => 'token'),
  }
}

const noSleep = async (): Promise<void> => undefined

describe('stores', () => {
  let api: Record<string, ReturnType<typeof vi.fn>>
  let auth: AuthPort

  beforeEach(() => {
    setActivePinia(createPinia())
    api = {
      listBookings: vi.fn(),
      createBooking: vi.fn(),
      getBooking: vi.fn(),
      cancelBooking: vi.fn(),
      getLoyalty: vi.fn(),
    }
    auth = fakeAuth()
    setServices({ api: api as unknown as ApiClient, auth })
  })

  it('signs in with a normalised e-mail and knows an Admin', async () => {
    const store = useAuth()
    await store.signIn('  Staff@Example.com ', 'pw')
    expect(auth.signIn).toHaveBeenCalledWith('staff@example.com', 'pw')
    expect(store.signedIn).toBe(true)
    expect(store.isAdmin).toBe(true)
    store.signOut()
    expect(store.signedIn).toBe(false)
    expect(auth.signOut).toHaveBeenCalled()
  })

  it('pages my bookings and does not repeat one seen on the previous page', async () => {
    api.listBookings!
      .mockResolvedValueOnce({ bookings: [booking('CONFIRMED')], nextToken: 'next' })
      .mockResolvedValueOnce({ bookings: [booking('CONFIRMED'), booking('CANCELLED', { bookingId: 'b-2' })], nextToken: null })
    const store = useBookings()
    await store.loadFirst()
    expect(store.hasMore).toBe(true)
    await store.loadMore()
    expect(api.listBookings).toHaveBeenLastCalledWith({ limit: 10, nextToken: 'next' })
    expect(store.items.map((b) => b.bookingId)).toEqual(['b-1', 'b-2'])
    expect(store.hasMore).toBe(false)
  })

  it('keeps the Idempotency-Key when a failed booking request is retried, and a new one afterwards', async () => {
    api.createBooking!.mockRejectedValueOnce(new Error('network')).mockResolvedValue({ bookingId: 'b-1', status: 'PENDING' })
    const store = useBookings()
    await expect(store.book('f-1', 'tok_visa')).rejects.toThrow('network')
    await store.book('f-1', 'tok_visa')
    await store.book('f-1', 'tok_visa')
    const keys = api.createBooking!.mock.calls.map((c) => c[2])
    expect(keys[0]).toBe(keys[1])
    expect(keys[2]).not.toBe(keys[1])
  })

  it('follows a booking until it is final and remembers the reason', async () => {
    api.getBooking!
      .mockResolvedValueOnce(booking('PENDING'))
      .mockResolvedValueOnce(booking('PENDING'))
      .mockResolvedValueOnce(booking('CANCELLED', { cancelReason: 'PAYMENT_DECLINED' }))
    const store = useBookings()
    const final = await store.follow('b-1', { sleep: noSleep })
    expect(final.status).toBe('CANCELLED')
    expect(store.byId['b-1']!.cancelReason).toBe('PAYMENT_DECLINED')
    expect(api.getBooking).toHaveBeenCalledTimes(3)
  })

  it('stops following after the longest wait even if the booking is still pending', async () => {
    api.getBooking!.mockResolvedValue(booking('PENDING'))
    const store = useBookings()
    const last = await store.follow('b-1', { sleep: noSleep, intervalMs: 1000, maxWaitMs: 3000 })
    expect(last.status).toBe('PENDING')
    expect(api.getBooking!.mock.calls.length).toBeGreaterThan(2)
    expect(api.getBooking!.mock.calls.length).toBeLessThan(10)
  })

  it('cancels and follows until CANCELLED, passing through CANCELLING', async () => {
    api.cancelBooking!.mockResolvedValue({ bookingId: 'b-1', status: 'CANCELLING' })
    api.getBooking!.mockResolvedValueOnce(booking('CANCELLING')).mockResolvedValueOnce(booking('CANCELLED', { cancelReason: 'CUSTOMER_CANCELLED', refunded: true }))
    const store = useBookings()
    const done = await store.cancel('b-1', { sleep: noSleep })
    expect(done).toMatchObject({ status: 'CANCELLED', refunded: true })
  })

  it('loads loyalty and measures progress to the next tier', async () => {
    api.getLoyalty!.mockResolvedValue({ points: 75000, tier: 'silver', nextTier: 'gold', pointsToNextTier: 25000 })
    const store = useLoyalty()
    await store.load()
    expect(store.progress).toBe(0.5)
    expect(progress({ points: 120000, tier: 'gold', nextTier: null, pointsToNextTier: null })).toBe(1)
    expect(progress({ points: 0, tier: 'bronze', nextTier: 'silver', pointsToNextTier: 50000 })).toBe(0)
  })
})
