'use strict';
// After `sls deploy` of the frontend stack (or `sls publish-webapp`): build frontend/, write
// dist/config.json from the deployed stacks' outputs (user pool and client from the platform's
// exports, each HTTP API's URL, the RUM app monitor), upload the files to the app bucket with
// their cache rules (hashed assets immutable, index.html and config.json revalidated; assets
// first so a new index.html never names a missing file) and invalidate what is not immutable.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { CloudFormationClient, DescribeStacksCommand, ListExportsCommand } = require('@aws-sdk/client-cloudformation');
const { CloudFrontClient, CreateInvalidationCommand } = require('@aws-sdk/client-cloudfront');
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const APP = path.join(ROOT, 'frontend');
const DIST = path.join(APP, 'dist');
const API_SERVICES = ['booking', 'catalog', 'loyalty'];
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.eot': 'application/vnd.ms-fontobject',
};

function environmentOf(stage) {
  return stage.startsWith('prod') ? 'prod' : stage;
}

/** config.json: the same keys the local cloud serves (localcloud/webapp.py). */
function appConfig({ region, env, exports, apiUrls, frontendOutputs }) {
  const need = (value, what) => {
    if (!value) throw new Error(`publish-webapp: ${what} is missing (deploy the platform and the API stacks first)`);
    return value;
  };
  const apis = {};
  for (const service of API_SERVICES) apis[service] = need(apiUrls[service], `the HttpApiUrl of ${service}`).replace(/\/+$/, '');
  return {
    region,
    userPoolId: need(exports[`airline-${env}-UserPoolId`], `export airline-${env}-UserPoolId`),
    userPoolClientId: need(exports[`airline-${env}-UserPoolClientId`], `export airline-${env}-UserPoolClientId`),
    cognitoEndpoint: null,
    apis,
    rum: {
      applicationId: need(frontendOutputs.RumAppMonitorId, 'output RumAppMonitorId'),
      identityPoolId: need(frontendOutputs.RumIdentityPoolId, 'output RumIdentityPoolId'),
      guestRoleArn: need(frontendOutputs.RumGuestRoleArn, 'output RumGuestRoleArn'),
      endpoint: `https://dataplane.rum.${region}.amazonaws.com`,
      region,
    },
  };
}

function cacheControl(key) {
  return key.startsWith('assets/') ? IMMUTABLE : REVALIDATE;
}

function contentType(key) {
  return TYPES[path.extname(key).toLowerCase()] || 'application/octet-stream';
}

/** Upload order: hashed assets, then everything else, index.html and config.json last. */
function uploadOrder(keys) {
  const rank = (key) => (key.startsWith('assets/') ? 0 : key === 'index.html' || key === 'config.json' ? 2 : 1);
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function listFiles(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const key = prefix + entry.name;
    return entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${key}/`) : [key];
  });
}

class PublishWebapp {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.commands = {
      'publish-webapp': {
        usage: 'Build the web app, write config.json from the stacks outputs, upload it and invalidate CloudFront',
        lifecycleEvents: ['publish'],
      },
    };
    this.hooks = {
      'after:deploy:deploy': () => this.publish(),
      'publish-webapp:publish': () => this.publish(),
    };
  }

  log(message) {
    this.serverless.cli.log(`publish-webapp: ${message}`);
  }

  // osls 4 removed provider.request(): SDK v3 clients with the provider's credentials, region and endpoint.
  async client(Client) {
    this.sdkConfig ||= await this.provider.getAwsSdkV3Config();
    return new Client(this.sdkConfig);
  }

  async outputs(stackName) {
    const cloudformation = await this.client(CloudFormationClient);
    const answer = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries((answer.Stacks[0].Outputs || []).map((o) => [o.OutputKey, o.OutputValue]));
  }

  async exports() {
    const cloudformation = await this.client(CloudFormationClient);
    const found = {};
    let NextToken;
    do {
      const page = await cloudformation.send(new ListExportsCommand(NextToken ? { NextToken } : {}));
      for (const item of page.Exports || []) found[item.Name] = item.Value;
      NextToken = page.NextToken;
    } while (NextToken);
    return found;
  }

  async publish() {
    const stage = this.provider.getStage();
    const region = this.provider.getRegion();
    const frontendOutputs = await this.outputs(this.provider.naming.getStackName());
    const apiUrls = {};
    for (const service of API_SERVICES) apiUrls[service] = (await this.outputs(`airline-${service}-${stage}`)).HttpApiUrl;
    const config = appConfig({ region, env: environmentOf(stage), exports: await this.exports(), apiUrls, frontendOutputs });

    this.log('building frontend/ (npm ci, vite build)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: APP, stdio: 'inherit' });
    execFileSync('npm', ['run', 'build'], { cwd: APP, stdio: 'inherit' });
    fs.writeFileSync(path.join(DIST, 'config.json'), JSON.stringify(config, null, 2));

    const bucket = frontendOutputs.AppBucketName;
    const keys = uploadOrder(listFiles(DIST));
    const s3 = await this.client(S3Client);
    for (const key of keys) {
      const Body = fs.readFileSync(path.join(DIST, key));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body, ContentType: contentType(key), CacheControl: cacheControl(key) }));
    }
    this.log(`uploaded ${keys.length} files to ${bucket}`);
    const cloudfront = await this.client(CloudFrontClient);
    await cloudfront.send(
      new CreateInvalidationCommand({
        DistributionId: frontendOutputs.DistributionId,
        InvalidationBatch: {
          CallerReference: `publish-${Date.now()}`,
          Paths: { Quantity: 3, Items: ['/', '/index.html', '/config.json'] },
        },
      }),
    );
    this.log(`published ${frontendOutputs.AppUrl}`);
  }
}

module.exports = PublishWebapp;
module.exports.appConfig = appConfig;
module.exports.cacheControl = cacheControl;
module.exports.contentType = contentType;
module.exports.uploadOrder = uploadOrder;
