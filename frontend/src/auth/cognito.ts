// Cognito user pool sign-up, confirmation, SRP sign-in and session refresh
// (amazon-cognito-identity-js). Sessions persist in localStorage; getSession refreshes
// expired access and id tokens with the refresh token.
import {
  AuthenticationDetails,
  CognitoRefreshToken,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
  type CognitoUserSession,
} from 'amazon-cognito-identity-js'
import type { AppConfig } from '@/config'

export interface SignedInUser {
  email: string
  sub: string
  groups: string[]
}

/** What the app needs from an identity provider (a fake in unit tests). */
export interface AuthPort {
  signUp(email: string, password: string): Promise<void>
  confirm(email: string, code: string): Promise<void>
  resendCode(email: string): Promise<void>
  signIn(email: string, password: string): Promise<SignedInUser>
  signOut(): void
  restore(): Promise<SignedInUser | null>
  accessToken(refresh: boolean): Promise<string>
}

export class CognitoAuth implements AuthPort {
  private readonly pool: CognitoUserPool

  constructor(config: Pick<AppConfig, 'userPoolId' | 'userPoolClientId' | 'cognitoEndpoint'>) {
    this.pool = new CognitoUserPool({
      UserPoolId: config.userPoolId,
      ClientId: config.userPoolClientId,
      ...(config.cognitoEndpoint ? { endpoint: config.cognitoEndpoint } : {}),
    })
  }

  signUp(email: string, password: string): Promise<void> {
    const attributes = [new CognitoUserAttribute({ Name: 'email', Value: email })]
    return new Promise((resolve, reject) => {
      this.pool.signUp(email, password, attributes, [], (error) => (error ? reject(error) : resolve()))
    })
  }

  confirm(email: string, code: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.user(email).confirmRegistration(code, false, (error) => (error ? reject(error) : resolve()))
    })
  }

  resendCode(email: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.user(email).resendConfirmationCode((error) => (error ? reject(error) : resolve()))
    })
  }

  signIn(email: string, password: string): Promise<SignedInUser> {
    const user = this.user(email)
    user.setAuthenticationFlowType('USER_SRP_AUTH')
    const details = new AuthenticationDetails({ Username: email, Password: password })
    return new Promise((resolve, reject) => {
      user.authenticateUser(details, {
        onSuccess: (session) => {
          rememberEmail(email)
          resolve(describe(session, email))
        },
        onFailure: (error) => reject(error),
        newPasswordRequired: () => reject(Object.assign(new Error('new password required'), { code: 'PasswordResetRequiredException' })),
        totpRequired: () => reject(Object.assign(new Error('MFA code required'), { code: 'MfaRequired' })),
        mfaRequired: () => reject(Object.assign(new Error('MFA code required'), { code: 'MfaRequired' })),
      })
    })
  }

  signOut(): void {
    this.pool.getCurrentUser()?.signOut()
    rememberEmail(null)
  }

  async restore(): Promise<SignedInUser | null> {
    try {
      const session = await this.session(false)
      return describe(session, rememberedEmail() ?? this.pool.getCurrentUser()?.getUsername() ?? '')
    } catch {
      return null
    }
  }

  async accessToken(refresh: boolean): Promise<string> {
    return (await this.session(refresh)).getAccessToken().getJwtToken()
  }

  private session(refresh: boolean): Promise<CognitoUserSession> {
    const user = this.pool.getCurrentUser()
    if (!user) return Promise.reject(Object.assign(new Error('not signed in'), { code: 'NotAuthorizedException' }))
    return new Promise((resolve, reject) => {
      user.getSession((error: Error | null, session: CognitoUserSession | null) => {
        if (error || !session) return reject(error ?? new Error('no session'))
        if (!refresh && session.isValid()) return resolve(session)
        const token: CognitoRefreshToken = session.getRefreshToken()
        user.refreshSession(token, (refreshError: Error | null, fresh: CognitoUserSession | null) =>
          refreshError || !fresh ? reject(refreshError ?? new Error('refresh failed')) : resolve(fresh),
        )
      })
    })
  }

  private user(email: string): CognitoUser {
    return new CognitoUser({ Username: email, Pool: this.pool })
  }
}

function describe(session: CognitoUserSession, username: string): SignedInUser {
  const id = session.getIdToken().decodePayload()
  const access = session.getAccessToken().decodePayload()
  const groups = access['cognito:groups']
  const claimed = typeof id.email === 'string' && id.email.includes('@') ? id.email : ''
  return {
    email: claimed || username,
    sub: String(access.sub ?? id.sub ?? ''),
    groups: Array.isArray(groups) ? groups.map(String) : [],
  }
}

// The library keeps the user under Cognito's username (the user's id when e-mail is the sign-in
// alias), so the address typed at sign-in is kept beside it for display when the id token has none.
const EMAIL_KEY = 'airline.email'

function rememberEmail(email: string | null): void {
  try {
    if (email) localStorage.setItem(EMAIL_KEY, email)
    else localStorage.removeItem(EMAIL_KEY)
  } catch {
    // storage unavailable (private mode): the id token's claim or the username is shown instead
  }
}

function rememberedEmail(): string | null {
  try {
    return localStorage.getItem(EMAIL_KEY)
  } catch {
    return null
  }
}
