// Every failure the app can meet, in words a customer understands. The API's error body is
// {code, message, details: [{field, issue}]}; the code picks the words, never the message text.

export interface ErrorDetail {
  field: string
  issue: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

const BY_CODE: Record<string, string> = {
  NETWORK: 'We could not reach the airline. Check your connection and try again.',
  TIMEOUT: 'The airline took too long to answer. Please try again.',
  UNAUTHORIZED: 'Your session has ended. Please sign in again.',
  FORBIDDEN: 'This needs an airline staff account.',
  NOT_FOUND: 'We could not find that. It may have been removed, or it is not yours.',
  FLIGHT_NOT_FOUND: 'That flight no longer exists.',
  BOOKING_NOT_FOUND: 'We could not find that booking.',
  VALIDATION_ERROR: 'Some details are not right. Please check them and try again.',
  MALFORMED_REQUEST: 'The app sent something the airline could not read. Please reload the page.',
  PAYLOAD_TOO_LARGE: 'That is too much text. Please shorten it.',
  IDEMPOTENCY_KEY_REUSED: 'This booking was already started with other details. Please start again.',
  REQUEST_IN_PROGRESS: 'Your booking is already being processed. Please wait a moment.',
  BOOKING_NOT_CANCELLABLE: 'This booking cannot be cancelled right now. A booking can be cancelled once it is fully confirmed.',
  SEAT_INVENTORY_CONFLICT: 'That many seats are already sold: the capacity cannot go below them.',
  WORKFLOW_UNAVAILABLE: 'We could not start your booking just now. Please try again: you will not be charged twice.',
  SERVER: 'Something went wrong on our side. Please try again in a moment.',
}

const FIELD_WORDS: Record<string, string> = {
  from: 'From',
  to: 'To',
  date: 'Date',
  flightNumber: 'Flight number',
  departureAirportCode: 'From',
  arrivalAirportCode: 'To',
  departureTime: 'Departure',
  arrivalTime: 'Arrival',
  ticketPrice: 'Price',
  seatCapacity: 'Seats',
  paymentToken: 'Card',
  flightId: 'Flight',
}

function fieldName(field: string): string {
  const last = field.split('.').filter((p) => p !== 'body' && p !== 'query' && p !== 'path')
  const key = last.find((p) => p in FIELD_WORDS) ?? last[last.length - 1] ?? field
  return FIELD_WORDS[key] ?? key
}

/** One sentence (or a few) for any error thrown by the API client, Cognito or the browser. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const base = BY_CODE[error.code] ?? byStatus(error.status)
    if (error.details.length > 0 && (error.status === 422 || error.status === 400)) {
      const parts = error.details.map((d) => `${fieldName(d.field)}: ${d.issue}`)
      return `${base} ${parts.join('; ')}.`
    }
    return base
  }
  if (error instanceof Error && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    return describeCognito((error as Error & { code: string }).code, error.message)
  }
  return BY_CODE.SERVER!
}

function byStatus(status: number): string {
  if (status === 401) return BY_CODE.UNAUTHORIZED!
  if (status === 403) return BY_CODE.FORBIDDEN!
  if (status === 404) return BY_CODE.NOT_FOUND!
  if (status === 409) return 'That change conflicts with the current state. Please reload and try again.'
  if (status === 413) return BY_CODE.PAYLOAD_TOO_LARGE!
  if (status === 400 || status === 422) return BY_CODE.VALIDATION_ERROR!
  if (status === 429) return 'Too many requests just now. Please wait a moment and try again.'
  return BY_CODE.SERVER!
}

const COGNITO: Record<string, string> = {
  NotAuthorizedException: 'The e-mail or password is not right.',
  UserNotFoundException: 'The e-mail or password is not right.',
  UserNotConfirmedException: 'Please confirm your e-mail address first: enter the code we sent you.',
  UsernameExistsException: 'An account with this e-mail already exists. Sign in instead.',
  InvalidPasswordException:
    'Choose a stronger password: at least 12 characters with upper and lower case letters, a number and a symbol.',
  CodeMismatchException: 'That code is not right. Check the e-mail we sent and try again.',
  ExpiredCodeException: 'That code has expired. Ask for a new one.',
  LimitExceededException: 'Too many attempts. Please wait a few minutes and try again.',
  TooManyRequestsException: 'Too many attempts. Please wait a few minutes and try again.',
  InvalidParameterException: 'Please check the e-mail address and password.',
  NetworkError: BY_CODE.NETWORK!,
}

export function describeCognito(code: string, _message: string): string {
  return COGNITO[code] ?? 'We could not sign you in just now. Please try again.'
}

/** Why a booking was cancelled, for its owner. */
export function describeCancelReason(reason: string | undefined): string {
  switch (reason) {
    case 'PAYMENT_DECLINED':
      return 'Your card was declined. No money was taken. Try another card.'
    case 'PAYMENT_INVALID':
      return 'The card details were not accepted. No money was taken.'
    case 'PAYMENT_ERROR':
      return 'The card payment could not be processed. No money was taken. Please try again later.'
    case 'CAPTURE_FAILED':
      return 'The payment could not be completed, so the booking was cancelled and the hold on your card released.'
    case 'SOLD_OUT':
      return 'The flight sold out before your seat could be held. No money was taken.'
    case 'FLIGHT_NOT_FOUND':
      return 'The flight is no longer offered. No money was taken.'
    case 'SEAT_ERROR':
    case 'CONFIRMATION_FAILED':
      return 'We could not complete the booking. No money was taken. Please try again.'
    case 'CUSTOMER_CANCELLED':
      return 'You cancelled this booking. The payment was refunded and its points removed.'
    default:
      return 'The booking was cancelled.'
  }
}
