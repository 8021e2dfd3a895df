'use strict';
// node --test services/frontend/plugins: the pure parts of the publish step.
const test = require('node:test');
const assert = require('node:assert/strict');
const { appConfig, cacheControl, contentType, uploadOrder } = require('./publish-webapp');

const exportsOf = { 'airline-prod-UserPoolId': 'eu-west-1_pool', 'airline-prod-UserPoolClientId': 'client' };
const apiUrls = {
  booking: 'https://b.execute-api.eu-west-1.amazonaws.com/',
  catalog: 'https://c.execute-api.eu-west-1.amazonaws.com',
  loyalty: 'https://l.execute-api.eu-west-1.amazonaws.com',
};
const frontendOutputs = { RumAppMonitorId: 'rum-1', RumIdentityPoolId: 'eu-west-1:ip', RumGuestRoleArn: 'arn:aws:iam::1:role/rum' };

test('config.json comes from the exports and outputs of the stage', () => {
  const config = appConfig({ region: 'eu-west-1', env: 'prod', exports: exportsOf, apiUrls, frontendOutputs });
  assert.equal(config.userPoolId, 'eu-west-1_pool');
  assert.equal(config.cognitoEndpoint, null);
  assert.equal(config.apis.booking, 'https://b.execute-api.eu-west-1.amazonaws.com');
  assert.deepEqual(Object.keys(config.apis), ['booking', 'catalog', 'loyalty']);
  assert.equal(config.rum.endpoint, 'https://dataplane.rum.eu-west-1.amazonaws.com');
});

test('a missing API stack is a clear error, not a broken app', () => {
  assert.throws(
    () => appConfig({ region: 'eu-west-1', env: 'prod', exports: exportsOf, apiUrls: { ...apiUrls, loyalty: undefined }, frontendOutputs }),
    /HttpApiUrl of loyalty/,
  );
});

test('hashed assets are immutable, the entry points are revalidated', () => {
  assert.equal(cacheControl('assets/index-abc123.js'), 'public, max-age=31536000, immutable');
  assert.equal(cacheControl('index.html'), 'no-cache');
  assert.equal(cacheControl('config.json'), 'no-cache');
  assert.equal(contentType('assets/x.woff2'), 'font/woff2');
});

test('index.html and config.json are uploaded after the assets they name', () => {
  assert.deepEqual(uploadOrder(['index.html', 'config.json', 'favicon.ico', 'assets/b.js', 'assets/a.css']), [
    'assets/a.css',
    'assets/b.js',
    'favicon.ico',
    'config.json',
    'index.html',
  ]);
});

test('stack outputs are read with the provider SDK v3 configuration (osls 4 has no provider.request)', async () => {
  const http = require('node:http');
  const PublishWebapp = require('./publish-webapp');
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push(new URLSearchParams(body).get('Action'));
      res.setHeader('Content-Type', 'text/xml');
      res.end(
        '<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>s</StackName>' +
          '<Outputs><member><OutputKey>AppBucketName</OutputKey><OutputValue>app-bucket</OutputValue></member></Outputs>' +
          '</member></Stacks></DescribeStacksResult></DescribeStacksResponse>',
      );
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  const provider = {
    getAwsSdkV3Config: async () => ({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }),
  };
  const plugin = new PublishWebapp({ getProvider: () => provider, cli: { log() {} } });
  try {
    assert.deepEqual(await plugin.outputs('airline-frontend-prod'), { AppBucketName: 'app-bucket' });
    assert.deepEqual(seen, ['DescribeStacks']);
  } finally {
    server.close();
  }
});
