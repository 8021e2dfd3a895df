// The API's shapes (docs/openapi.yml). Money is integer minor units with its currency.
export interface Money {
  amount: number
  currency: string
}

export interface Flight {
  flightId: string
  flightNumber: string
  departureAirportCode: string
  arrivalAirportCode: string
  departureTime: string
  arrivalTime: string
  ticketPrice: Money
  seatCapacity: number
  seatsAvailable: number
}

export interface FlightPage {
  flights: Flight[]
  nextToken?: string | null
}

export type NewFlight = Omit<Flight, 'flightId' | 'seatsAvailable'>

export interface FlightUpdate {
  departureTime?: string
  arrivalTime?: string
  ticketPrice?: Money
  seatCapacity?: number
}

export type BookingStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLING' | 'CANCELLED'

export interface Booking {
  bookingId: string
  customerId: string
  flightId: string
  status: BookingStatus
  price: Money
  createdAt: string
  updatedAt: string
  bookingReference?: string
  cancelReason?: string
  confirmedAt?: string
  cancelledAt?: string
  settledAt?: string
  refunded: boolean
}

export interface BookingAccepted {
  bookingId: string
  status: BookingStatus
}

export interface BookingPage {
  bookings: Booking[]
  nextToken?: string | null
}

export type Tier = 'bronze' | 'silver' | 'gold'

export interface Loyalty {
  points: number
  tier: Tier
  nextTier: Tier | null
  pointsToNextTier: number | null
}

export const FINAL_STATUSES: readonly BookingStatus[] = ['CONFIRMED', 'CANCELLED']

/** The sandbox card tokens of the payment service (docs/payment.md). */
export const SANDBOX_CARDS = [
  { token: 'tok_visa', label: 'Visa ending 4242 (succeeds)' },
  { token: 'tok_chargeDeclined', label: 'Card declined by the bank' },
  { token: 'tok_insufficientFunds', label: 'Insufficient funds' },
  { token: 'tok_processingError', label: 'Processing error (retried, then succeeds)' },
] as const
