'use strict';

/**
 * Lambda SnapStart on the published versions that production traffic reaches.
 *
 * With `custom.snapStart` true (a stage parameter: production stages only), every
 * function that is invoked through an alias (the `Live` alias CodeDeploy shifts) gets
 * `SnapStart: {ApplyOn: PublishedVersions}`, except where that alias has provisioned
 * concurrency: Lambda does not combine the two, and provisioned environments are
 * already initialized. Functions without an alias run $LATEST, which SnapStart never
 * covers, so they are left alone. The plugin names every choice on the console.
 *
 * SnapStart applies when a version is published, and the framework names a version
 * after a hash of the function's code and configuration taken before this plugin
 * runs: the version's logical id gets a `SnapStart` suffix (references follow), so
 * turning SnapStart on publishes a new, snapshotted version at once.
 *
 * List it AFTER serverless-plugin-canary-deployments and provisioned-concurrency-on-alias
 * (same hook; the aliases and their provisioned concurrency must exist).
 */
const SUFFIX = 'SnapStart';

function renameReferences(node, from, to) {
  // In place: every Ref, Fn::GetAtt and DependsOn naming `from` names `to`.
  if (Array.isArray(node)) {
    node.forEach((value) => renameReferences(value, from, to));
  } else if (node && typeof node === 'object') {
    if (node.Ref === from) node.Ref = to;
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[0] === from) getAtt[0] = to;
    if (node.DependsOn) node.DependsOn = [].concat(node.DependsOn).map((id) => (id === from ? to : id));
    Object.values(node).forEach((value) => renameReferences(value, from, to));
  }
}

function refersTo(node, logicalId) {
  return Boolean(node) && typeof node === 'object' && node.Ref === logicalId;
}

class SnapStartOnVersions {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.apply(),
    };
  }

  apply() {
    const setting = String((this.serverless.service.custom || {}).snapStart);
    if (setting !== 'true') return;
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources;
    const typed = (type) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
    const aliases = typed('AWS::Lambda::Alias');
    for (const [functionId, fn] of typed('AWS::Lambda::Function')) {
      const own = aliases.filter(([, alias]) => refersTo(alias.Properties.FunctionName, functionId));
      if (own.length === 0) {
        this.log(`${functionId}: no alias, runs $LATEST; SnapStart not applied`);
        continue;
      }
      if (own.some(([, alias]) => alias.Properties.ProvisionedConcurrencyConfig)) {
        this.log(`${functionId}: provisioned concurrency on its alias; SnapStart not applied (they do not combine)`);
        continue;
      }
      fn.Properties.SnapStart = { ApplyOn: 'PublishedVersions' };
      for (const [versionId] of typed('AWS::Lambda::Version')) {
        if (!refersTo(resources[versionId].Properties.FunctionName, functionId) || versionId.endsWith(SUFFIX)) continue;
        const renamed = `${versionId}${SUFFIX}`;
        renameReferences([resources, template.Outputs || {}], versionId, renamed);
        resources[renamed] = resources[versionId];
        delete resources[versionId];
      }
      this.log(`${functionId}: SnapStart on published versions`);
    }
  }

  log(message) {
    this.serverless.cli.log(`snapstart-on-versions: ${message}`);
  }
}

module.exports = SnapStartOnVersions;
