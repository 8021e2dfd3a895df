import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from './config'

const GOOD = {
  region: 'eu-west-1',
  userPoolId: 'eu-west-1_abc',
  userPoolClientId: 'client',
  cognitoEndpoint: 'http://127.0.0.1:4566',
  apis: { catalog: 'http://127.0.0.1:4567/catalog/', booking: 'http://127.0.0.1:4567/booking', loyalty: 'http://127.0.0.1:4567/loyalty' },
  rum: null,
}

describe('config.json', () => {
  it('reads what the deployment wrote, trimming trailing slashes from API URLs', () => {
    const config = parseConfig(GOOD)
    expect(config.apis.catalog).toBe('http://127.0.0.1:4567/catalog')
    expect(config.cognitoEndpoint).toBe('http://127.0.0.1:4566/')
  })

  it('uses AWS’s own Cognito endpoint when none is given', () => {
    expect(parseConfig({ ...GOOD, cognitoEndpoint: null }).cognitoEndpoint).toBeNull()
  })

  it('refuses a config without an API', () => {
    expect(() => parseConfig({ ...GOOD, apis: { catalog: GOOD.apis.catalog } })).toThrow(ConfigError)
    expect(() => parseConfig({ ...GOOD, userPoolId: '' })).toThrow(/userPoolId/)
  })
})
