'use strict';

/**
 * `sls invoke local -f NAME --stage local` against the running local cloud (`make local`).
 *
 * `make local` writes `.localcloud/running.json` (its edge URL, region, each deployed function's
 * resolved environment and role credentials) and removes it when it stops. For the `local` stage
 * this plugin points the invocation at that cloud before the framework loads the environment:
 * AWS_ENDPOINT_URL = the edge, the credentials of the function's own role (IAM is enforced on
 * the edge), and the function's environment as deployed (CloudFormation expressions already
 * resolved, which `invoke local` cannot do offline). The handler runs with the repository's
 * .venv unless a virtualenv is active. With no cloud running it stops with one line saying how
 * to start one. Other stages and commands are untouched.
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
// LOCALCLOUD_RUNNING_FILE: another cloud's marker (tests run their own cloud beside `make local`)
const RUNNING = process.env.LOCALCLOUD_RUNNING_FILE || path.join(ROOT, '.localcloud', 'running.json');
const START = 'no local cloud is running: start one with `make local` in the repository root, then invoke again';

function runningCloud() {
  let found;
  try {
    found = JSON.parse(fs.readFileSync(RUNNING, 'utf8'));
    process.kill(found.pid, 0); // throws when the process that wrote it is gone
  } catch {
    return null;
  }
  return found;
}

class LocalCloudInvokeLocal {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = { initialize: () => this.pointAtLocalCloud() };
  }

  pointAtLocalCloud() {
    const commands = (this.serverless.processedInput || {}).commands || [];
    if (commands[0] !== 'invoke' || commands[1] !== 'local') return;
    if (this.serverless.getProvider('aws').getStage() !== 'local') return;
    const cloud = runningCloud();
    if (!cloud) throw new this.serverless.classes.Error(START, 'LOCALCLOUD_NOT_RUNNING');
    const fn = this.serverless.service.getFunction(this.options.function);
    const deployed = cloud.functions[fn.name];
    if (!deployed) {
      throw new this.serverless.classes.Error(
        `${fn.name} is not deployed on the running local cloud (${cloud.edge}): restart \`make local\``,
        'LOCALCLOUD_FUNCTION_NOT_DEPLOYED'
      );
    }
    for (const name of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN']) delete process.env[name];
    const role = (cloud.credentials || {})[fn.name] || {};
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: cloud.edge,
      AWS_REGION: cloud.region,
      AWS_DEFAULT_REGION: cloud.region,
      AWS_ACCESS_KEY_ID: 'localcloud',
      AWS_SECRET_ACCESS_KEY: 'localcloud',
      ...role,
    });
    if (!process.env.VIRTUAL_ENV) process.env.VIRTUAL_ENV = path.join(ROOT, '.venv');
    this.serverless.service.provider.environment = {};
    fn.environment = { ...deployed, POWERTOOLS_TRACE_DISABLED: 'true' }; // no X-Ray daemon locally
  }
}

module.exports = LocalCloudInvokeLocal;
