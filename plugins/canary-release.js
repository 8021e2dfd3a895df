'use strict';

/**
 * What a canary release needs beyond serverless-plugin-canary-deployments: alarms that judge the new
 * version of every alias CodeDeploy shifts, and hook roles scoped to their own deployment groups.
 *
 * Hooks: the roles of the functions named as `BeforeAllowTraffic`/`AfterAllowTraffic` hooks get
 * `codedeploy:GetDeployment` + `codedeploy:PutLifecycleEventHookExecutionStatus` on exactly the
 * deployment groups whose aliases name them (`deploymentgroup:<application>/<group>`), and
 * `lambda:InvokeFunction` on exactly the versions and aliases of the functions those groups shift
 * (`<function ARN>:*`; never `$LATEST` unqualified). The canary plugin's own hook grant goes to the
 * shared role no function uses here (per-function roles).
 *
 * Alarms:
 * For each `AWS::Lambda::Alias` with a `CodeDeployLambdaAliasUpdate` policy (made by
 * serverless-plugin-canary-deployments), on the alias itself (AWS/Lambda with the
 * `Resource` dimension `<function>:<alias>`, as Lambda publishes it):
 * - Throttles (>= 1 in a minute) and p99 Duration (above `p99Percent` of the function's timeout in 2 of
 *   3 minutes) on every shifted function;
 * - Errors (>= 1 in a minute) on functions with an event source of their own (HTTP API routes, an SQS
 *   queue): there an error is a fault. A workflow task raises its business outcomes by name (declines,
 *   sold out: the workflow's Catch), so its Errors count customers, not releases; tasks are judged by
 *   throttles, latency and the business signal instead, unless the service lists it in
 *   `custom.releaseErrorsOnAlias` (a task whose errors are all faults). On the alias, not the function:
 *   the pre-traffic hook's smoke calls go to the version itself and are not counted there.
 * - the business signal: every group also watches the stack's `ReleaseBookingFailuresAlarm` when the
 *   stack has one (services/common/release-business-alarm.yml: bookings cancelled for a reason only a
 *   fault gives).
 * Settings (`custom.releaseAlarms`, services/common/release-alarms.yml): alarm topic, p99 share.
 *
 * List it AFTER serverless-plugin-canary-deployments (same hook; the aliases must exist).
 */
const BUSINESS_ALARM = 'ReleaseBookingFailuresAlarm';

class CanaryRelease {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.apply(),
    };
  }

  apply() {
    const service = this.serverless.service;
    const settings = (service.custom || {}).releaseAlarms || {};
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const naming = this.serverless.getProvider('aws').naming;
    const stage = this.serverless.getProvider('aws').getStage();
    const faultsOnly = new Set((service.custom || {}).releaseErrorsOnAlias || []);
    const withEvents = new Set(
      service.getAllFunctions()
        .filter((name) => (service.getFunction(name).events || []).length > 0 || faultsOnly.has(name))
        .map((name) => naming.getLambdaLogicalId(name)),
    );
    let added = 0;
    for (const alias of Object.values(resources)) {
      const policy = alias.Type === 'AWS::Lambda::Alias' && (alias.UpdatePolicy || {}).CodeDeployLambdaAliasUpdate;
      if (!policy) continue;
      const functionId = alias.Properties.FunctionName.Ref;
      const group = resources[policy.DeploymentGroupName.Ref];
      const fn = resources[functionId];
      const shortName = fn.Properties.FunctionName.split('-').pop();
      const aliasName = alias.Properties.Name;
      const dimensions = [
        { Name: 'FunctionName', Value: { Ref: functionId } },
        { Name: 'Resource', Value: { 'Fn::Join': ['', [{ Ref: functionId }, `:${aliasName}`]] } },
      ];
      const common = (what, description) => ({
        AlarmName: `${service.service}-${stage}-${shortName}-${aliasName.toLowerCase()}-${what}`,
        AlarmDescription: `${description} on the ${aliasName} alias of ${shortName}; rolls a canary back`,
        Namespace: 'AWS/Lambda',
        Dimensions: dimensions,
        Period: 60,
        TreatMissingData: 'notBreaching',
        AlarmActions: settings.alarmTopic ? [settings.alarmTopic] : [],
      });
      const alarms = {
        [`${functionId}${aliasName}ThrottlesAlarm`]: {
          ...common('throttles', 'Throttled invocations'),
          MetricName: 'Throttles',
          Statistic: 'Sum',
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        },
        [`${functionId}${aliasName}DurationP99Alarm`]: {
          ...common('p99', 'p99 duration near the timeout'),
          MetricName: 'Duration',
          ExtendedStatistic: 'p99',
          EvaluationPeriods: 3,
          DatapointsToAlarm: 2,
          Threshold: Math.round((fn.Properties.Timeout || 6) * 1000 * (settings.p99Percent || 80) / 100),
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluateLowSampleCountPercentile: 'ignore',
        },
      };
      if (withEvents.has(functionId)) {
        alarms[`${functionId}${aliasName}ErrorsAlarm`] = {
          ...common('errors', 'Errors'),
          MetricName: 'Errors',
          Statistic: 'Sum',
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        };
      }
      const watched = Object.keys(alarms);
      if (resources[BUSINESS_ALARM]) watched.push(BUSINESS_ALARM);
      for (const [id, properties] of Object.entries(alarms)) {
        resources[id] = { Type: 'AWS::CloudWatch::Alarm', Properties: properties };
        added += 1;
      }
      const config = group.Properties.AlarmConfiguration || { Alarms: [], Enabled: true };
      const names = new Set(config.Alarms.map((a) => JSON.stringify(a.Name)));
      for (const id of watched) {
        if (!names.has(JSON.stringify({ Ref: id }))) config.Alarms.push({ Name: { Ref: id } });
      }
      group.Properties.AlarmConfiguration = config;
    }
    this.scopeHookRoles(resources);
    if (added) this.serverless.cli.log(`canary-release: ${added} alarms on shifted aliases`);
  }

  scopeHookRoles(resources) {
    const byHook = new Map(); // hook function logical id -> {groups, functions}
    for (const alias of Object.values(resources)) {
      const policy = alias.Type === 'AWS::Lambda::Alias' && (alias.UpdatePolicy || {}).CodeDeployLambdaAliasUpdate;
      if (!policy) continue;
      for (const key of ['BeforeAllowTrafficHook', 'AfterAllowTrafficHook']) {
        if (!policy[key]) continue;
        const hook = policy[key].Ref;
        if (!byHook.has(hook)) byHook.set(hook, { groups: new Map(), functions: new Set() });
        const entry = byHook.get(hook);
        const group = resources[policy.DeploymentGroupName.Ref].Properties;
        entry.groups.set(group.DeploymentGroupName, policy.ApplicationName.Ref);
        entry.functions.add(alias.Properties.FunctionName.Ref);
      }
    }
    for (const [hook, { groups, functions }] of byHook) {
      const role = resources[resources[hook].Properties.Role['Fn::GetAtt'][0]];
      const groupArns = [...groups].map(([name, application]) => ({
        'Fn::Join': ['', [
          'arn:', { Ref: 'AWS::Partition' }, ':codedeploy:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
          ':deploymentgroup:', { Ref: application }, `/${name}`,
        ]],
      }));
      const versions = [...functions].sort().map((id) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, ':*']] }));
      role.Properties.Policies[0].PolicyDocument.Statement.push(
        {
          Effect: 'Allow',
          Action: ['codedeploy:GetDeployment', 'codedeploy:PutLifecycleEventHookExecutionStatus'],
          Resource: groupArns,
        },
        { Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: versions },
      );
    }
  }
}

module.exports = CanaryRelease;
