// The one way the app talks to the airline's HTTP APIs: bearer token, timeouts, the error body
// turned into ApiError, and one retry with a refreshed token when the API answers 401.
import type { AppConfig } from '@/config'
import { ApiError, type ErrorDetail } from './errors'
import type {
  Booking,
  BookingAccepted,
  BookingPage,
  Flight,
  FlightPage,
  FlightUpdate,
  Loyalty,
  NewFlight,
} from './types'

/** The current access token; `refresh` asks for a new one (after a 401). */
export type TokenProvider = (refresh: boolean) => Promise<string>

export interface ClientOptions {
  fetcher?: typeof fetch
  timeoutMs?: number
}

type Method = 'GET' | 'POST' | 'PUT'

export class ApiClient {
  private readonly fetcher: typeof fetch
  private readonly timeoutMs: number

  constructor(
    private readonly apis: AppConfig['apis'],
    private readonly token: TokenProvider,
    options: ClientOptions = {},
  ) {
    this.fetcher = options.fetcher ?? ((input, init) => fetch(input, init))
    this.timeoutMs = options.timeoutMs ?? 15000
  }

  searchFlights(query: { from: string; to: string; date: string; limit?: number; nextToken?: string }): Promise<FlightPage> {
    return this.call('GET', this.apis.catalog, '/flights', { query })
  }

  getFlight(flightId: string): Promise<Flight> {
    return this.call('GET', this.apis.catalog, `/flights/${encodeURIComponent(flightId)}`)
  }

  createFlight(flight: NewFlight): Promise<Flight> {
    return this.call('POST', this.apis.catalog, '/flights', { body: flight })
  }

  updateFlight(flightId: string, change: FlightUpdate): Promise<Flight> {
    return this.call('PUT', this.apis.catalog, `/flights/${encodeURIComponent(flightId)}`, { body: change })
  }

  createBooking(flightId: string, paymentToken: string, idempotencyKey: string): Promise<BookingAccepted> {
    return this.call('POST', this.apis.booking, '/bookings', {
      body: { flightId, paymentToken },
      headers: { 'Idempotency-Key': idempotencyKey },
    })
  }

  getBooking(bookingId: string): Promise<Booking> {
    return this.call('GET', this.apis.booking, `/bookings/${encodeURIComponent(bookingId)}`)
  }

  listBookings(query: { limit?: number; nextToken?: string } = {}): Promise<BookingPage> {
    return this.call('GET', this.apis.booking, '/bookings', { query })
  }

  cancelBooking(bookingId: string): Promise<BookingAccepted> {
    return this.call('POST', this.apis.booking, `/bookings/${encodeURIComponent(bookingId)}/cancel`)
  }

  getLoyalty(): Promise<Loyalty> {
    return this.call('GET', this.apis.loyalty, '/loyalty')
  }

  private async call<T>(
    method: Method,
    base: string,
    path: string,
    options: { query?: Record<string, string | number | undefined>; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const url = new URL(base + path)
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value))
    }
    let answer = await this.send(method, url, options, await this.token(false))
    if (answer.status === 401) answer = await this.send(method, url, options, await this.token(true))
    const text = await answer.text()
    const data = parseJson(text)
    if (!answer.ok) throw toApiError(answer.status, data)
    return data as T
  }

  private async send(
    method: Method,
    url: URL,
    options: { body?: unknown; headers?: Record<string, string> },
    token: string,
  ): Promise<Response> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.timeoutMs)
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...options.headers }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json'
    try {
      return await this.fetcher(url.toString(), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: controller.signal,
      })
    } catch (error) {
      if (controller.signal.aborted) throw new ApiError(0, 'TIMEOUT', 'request timed out')
      throw new ApiError(0, 'NETWORK', error instanceof Error ? error.message : 'network error')
    } finally {
      clearTimeout(timer)
    }
  }
}

function parseJson(text: string): unknown {
  if (text === '') return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function toApiError(status: number, data: unknown): ApiError {
  const body = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const code = typeof body.code === 'string' ? body.code : status === 401 ? 'UNAUTHORIZED' : status >= 500 ? 'SERVER' : `HTTP_${status}`
  const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`
  const details = Array.isArray(body.details)
    ? body.details.filter(
        (d): d is ErrorDetail => typeof d === 'object' && d !== null && typeof d.field === 'string' && typeof d.issue === 'string',
      )
    : []
  return new ApiError(status, code, message, details)
}

/** A fresh Idempotency-Key for one booking attempt (kept while the customer retries it). */
export function newIdempotencyKey(): string {
  return `web-${crypto.randomUUID()}`
}
