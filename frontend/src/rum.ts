// CloudWatch RUM: the app monitor's web client, with credentials from the platform's identity
// pool (the guest/authenticated role may only rum:PutRumEvents on this monitor).
import { AwsRum } from 'aws-rum-web'
import type { RumConfig } from './config'

export function startRum(config: RumConfig): AwsRum {
  return new AwsRum(config.applicationId, '1.0.0', config.region, {
    sessionSampleRate: 1,
    identityPoolId: config.identityPoolId,
    ...(config.guestRoleArn ? { guestRoleArn: config.guestRoleArn } : {}),
    endpoint: config.endpoint,
    telemetries: ['errors', 'performance', 'http'],
    allowCookies: false,
    enableXRay: false,
  })
}
