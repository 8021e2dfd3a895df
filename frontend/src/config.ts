// Settings written by the deployment (never edited by hand): the local cloud serves them,
// on AWS the frontend stack's deploy writes them from the stacks' outputs.
export interface RumConfig {
  applicationId: string
  identityPoolId: string
  guestRoleArn?: string
  endpoint: string
  region: string
}

export interface AppConfig {
  region: string
  userPoolId: string
  userPoolClientId: string
  /** The Cognito endpoint: the local cloud's edge, or null for AWS's own. */
  cognitoEndpoint: string | null
  apis: { catalog: string; booking: string; loyalty: string }
  rum: RumConfig | null
}

export class ConfigError extends Error {}

export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError('config.json is not an object')
  const value = raw as Record<string, unknown>
  const text = (key: string): string => {
    const v = value[key]
    if (typeof v !== 'string' || v === '') throw new ConfigError(`config.json: ${key} is missing`)
    return v
  }
  const apis = value.apis as Record<string, unknown> | undefined
  const api = (name: string): string => {
    const v = apis?.[name]
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) throw new ConfigError(`config.json: apis.${name} is missing`)
    return v.replace(/\/+$/, '')
  }
  const endpoint = value.cognitoEndpoint
  return {
    region: text('region'),
    userPoolId: text('userPoolId'),
    userPoolClientId: text('userPoolClientId'),
    cognitoEndpoint: typeof endpoint === 'string' && endpoint !== '' ? endpoint.replace(/\/*$/, '/') : null,
    apis: { catalog: api('catalog'), booking: api('booking'), loyalty: api('loyalty') },
    rum: (value.rum as RumConfig | null | undefined) ?? null,
  }
}

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<AppConfig> {
  const answer = await fetcher('/config.json', { cache: 'no-cache' })
  if (!answer.ok) throw new ConfigError(`config.json answered ${answer.status}`)
  return parseConfig(await answer.json())
}
