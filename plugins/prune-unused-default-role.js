'use strict';

/**
 * Removes the framework's default Lambda role when no function uses it.
 *
 * With serverless-iam-roles-per-function every function has its own role, yet
 * the framework still emits `IamRoleLambdaExecution` and grants it the union of
 * the stack's event-source permissions (for example SQS receive/delete on a
 * queue). An assumable role nobody needs is privilege lying around, so this
 * plugin deletes it after packaging resolves roles, and fails loudly if any
 * resource still references it.
 *
 * List it last in `plugins.modules`.
 */
const DEFAULT_ROLE = 'IamRoleLambdaExecution';

function references(node, logicalId) {
  if (Array.isArray(node)) return node.some((value) => references(value, logicalId));
  if (node && typeof node === 'object') {
    if (node.Ref === logicalId) return true;
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[0] === logicalId) return true;
    if (typeof getAtt === 'string' && getAtt.split('.')[0] === logicalId) return true;
    const dependsOn = [].concat(node.DependsOn || []);
    if (dependsOn.includes(logicalId)) return true;
    return Object.values(node).some((value) => references(value, logicalId));
  }
  return false;
}

class PruneUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:finalize': () => this.prune(),
    };
  }

  prune() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources || {};
    if (!resources[DEFAULT_ROLE]) return;
    const others = Object.entries(resources).filter(([name]) => name !== DEFAULT_ROLE);
    const users = others.filter(([, resource]) => references(resource, DEFAULT_ROLE)).map(([name]) => name);
    const inOutputs = references(template.Outputs || {}, DEFAULT_ROLE);
    if (users.length || inOutputs) {
      this.serverless.cli.log(`Keeping ${DEFAULT_ROLE}: used by ${users.join(', ') || 'Outputs'}`);
      return;
    }
    delete resources[DEFAULT_ROLE];
  }
}

module.exports = PruneUnusedDefaultRole;
