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
        onSuccess: (session) => resolve(describe(session)),
        onFailure: (error) => reject(error),
        newPasswordRequired: () => reject(Object.assign(new Error('new password required'), { code: 'PasswordResetRequiredException' })),
        totpRequired: () => reject(Object.assign(new Error('MFA code required'), { code: 'MfaRequired' })),
        mfaRequired: () => reject(Object.assign(new Error('MFA code required'), { code: 'MfaRequired' })),
      })
    })
  }

  signOut(): void {
    this.pool.getCurrentUser()?.signOut()
  }

  async restore(): Promise<SignedInUser | null> {
    try {
      return describe(await this.session(false))
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

function describe(session: CognitoUserSession): SignedInUser {
  const id = session.getIdToken().decodePayload()
  const access = session.getAccessToken().decodePayload()
  const groups = access['cognito:groups']
  return {
    email: String(id.email ?? ''),
    sub: String(access.sub ?? id.sub ?? ''),
    groups: Array.isArray(groups) ? groups.map(String) : [],
  }
}
