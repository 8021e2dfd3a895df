import { describe, expect, it, vi } from 'vitest'
import { ApiClient, type TokenProvider } from './client'
import { ApiError, describeCancelReason, describeError } from './errors'

const APIS = { catalog: 'http://api.test/catalog', booking: 'http://api.test/booking', loyalty: 'http://api.test/loyalty' }

function reply(status: number, body: unknown): Response {
  return new Response(body === undefined ? '' : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

function client(answers: Array<Response | Error>, token: TokenProvider = async (refresh) => (refresh ? 'fresh' : 'stale')) {
  const calls: Array<{ url: string; init: RequestInit }> = []
  const fetcher = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const next = answers.shift()
    if (next === undefined) throw new Error('no more answers')
    if (next instanceof Error) throw next
    return next
  })
  return { api: new ApiClient(APIS, token, { fetcher: fetcher as unknown as typeof fetch, timeoutMs: 50 }), calls }
}

describe('ApiClient', () => {
  it('searches with the query in the URL and the bearer token', async () => {
    const { api, calls } = client([reply(200, { flights: [], nextToken: null })])
    const page = await api.searchFlights({ from: 'LHR', to: 'JFK', date: '2026-12-01', limit: 10 })
    expect(page.flights).toEqual([])
    expect(calls[0]!.url).toBe('http://api.test/catalog/flights?from=LHR&to=JFK&date=2026-12-01&limit=10')
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBe('Bearer stale')
  })

  it('sends the Idempotency-Key and a JSON body when booking, never a price', async () => {
    const { api, calls } = client([reply(202, { bookingId: 'b-1', status: 'PENDING' })])
    const accepted = await api.createBooking('f-1', 'tok_visa', 'web-key-123')
    expect(accepted).toEqual({ bookingId: 'b-1', status: 'PENDING' })
    const headers = calls[0]!.init.headers as Record<string, string>
    expect(headers['Idempotency-Key']).toBe('web-key-123')
    expect(headers['Content-Type']).toBe('application/json')
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ flightId: 'f-1', paymentToken: 'tok_visa' })
  })

  it('retries once with a refreshed token after a 401', async () => {
    const { api, calls } = client([reply(401, { message: 'Unauthorized' }), reply(200, { points: 1, tier: 'bronze', nextTier: 'silver', pointsToNextTier: 49999 })])
    const loyalty = await api.getLoyalty()
    expect(loyalty.points).toBe(1)
    expect(calls.map((c) => (c.init.headers as Record<string, string>).Authorization)).toEqual(['Bearer stale', 'Bearer fresh'])
  })

  it('gives up after the second 401 with an UNAUTHORIZED error', async () => {
    const { api } = client([reply(401, { message: 'Unauthorized' }), reply(401, { message: 'Unauthorized' })])
    await expect(api.getLoyalty()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' })
  })

  it('turns the documented error body into an ApiError with its details', async () => {
    const body = { code: 'VALIDATION_ERROR', message: 'bad', details: [{ field: 'query.from', issue: 'must be three capital letters' }] }
    const { api } = client([reply(422, body)])
    const error = await api.searchFlights({ from: 'xx', to: 'JFK', date: '2026-12-01' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 422, code: 'VALIDATION_ERROR', details: body.details })
    expect(describeError(error)).toBe('Some details are not right. Please check them and try again. From: must be three capital letters.')
  })

  it('says a 404 booking is not found (another customer’s booking looks the same)', async () => {
    const { api } = client([reply(404, { code: 'NOT_FOUND', message: 'no booking', details: [] })])
    const error = await api.getBooking('b-2').catch((e: unknown) => e)
    expect(describeError(error)).toMatch(/could not find/)
  })

  it('reports a failed network as NETWORK and a body that is not JSON as a server error', async () => {
    const { api } = client([new TypeError('Failed to fetch'), new Response('<html>bad gateway</html>', { status: 502 })])
    const network = await api.getLoyalty().catch((e: unknown) => e)
    expect(network).toMatchObject({ code: 'NETWORK' })
    expect(describeError(network)).toMatch(/could not reach/)
    const gateway = await api.getLoyalty().catch((e: unknown) => e)
    expect(gateway).toMatchObject({ status: 502, code: 'SERVER' })
  })

  it('aborts a request that takes longer than its timeout', async () => {
    const hanging = vi.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))),
    )
    const api = new ApiClient(APIS, async () => 't', { fetcher: hanging as unknown as typeof fetch, timeoutMs: 10 })
    await expect(api.getBooking('b-1')).rejects.toMatchObject({ code: 'TIMEOUT' })
  })

  it('encodes path parameters', async () => {
    const { api, calls } = client([reply(202, { bookingId: 'a/b', status: 'CANCELLING' })])
    await api.cancelBooking('a/b')
    expect(calls[0]!.url).toBe('http://api.test/booking/bookings/a%2Fb/cancel')
    expect(calls[0]!.init.method).toBe('POST')
  })
})

describe('words for customers', () => {
  it('explains every cancellation reason the workflow sets', () => {
    for (const reason of ['PAYMENT_DECLINED', 'PAYMENT_ERROR', 'SOLD_OUT', 'CUSTOMER_CANCELLED', 'CAPTURE_FAILED']) {
      expect(describeCancelReason(reason)).not.toBe('The booking was cancelled.')
    }
    expect(describeCancelReason('PAYMENT_DECLINED')).toMatch(/declined/)
  })

  it('explains Cognito errors by their code', () => {
    const error = Object.assign(new Error('Incorrect username or password.'), { code: 'NotAuthorizedException' })
    expect(describeError(error)).toBe('The e-mail or password is not right.')
  })
})
