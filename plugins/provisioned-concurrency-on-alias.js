'use strict';

/**
 * Provisioned concurrency on the alias that CodeDeploy shifts and the HTTP API invokes.
 *
 * The framework's own `provisionedConcurrency` creates a separate `provisioned`
 * alias, which serverless-plugin-canary-deployments does not know about: API
 * permissions and integrations then point at one alias and the warm
 * environments sit on another (canary plugin issue #94). This plugin instead
 * sets `ProvisionedConcurrencyConfig` on the canary plugin's alias
 * (`<Fn>LambdaFunctionAlias<Alias>`, `Live` by default) and adds Application
 * Auto Scaling target tracking on provisioned-concurrency utilization.
 *
 * List it AFTER serverless-plugin-canary-deployments: both hook
 * `after:aws:package:finalize:mergeCustomProviderResources`, hooks run in plugin
 * order, and the alias must exist when this one runs (it fails loudly if not).
 *
 * custom:
 *   provisionedConcurrency:
 *     searchFlights:            # function key
 *       alias: Live             # optional, default Live
 *       stages:                 # stages not listed get nothing
 *         prod:
 *           provisioned: 5      # ProvisionedConcurrentExecutions on the alias (at deploy)
 *           min: 5              # scalable target bounds
 *           max: 50
 *           targetUtilization: 0.7   # optional, default 0.7
 *           scaleInCooldown: 300     # optional seconds, default 300
 *           scaleOutCooldown: 60     # optional seconds, default 60
 *           scheduledActions:        # optional
 *             - name: morning-peak
 *               schedule: cron(0 6 * * ? *)
 *               timezone: Europe/London   # optional, default UTC
 *               min: 20
 *               max: 100
 */

const DEFAULT_ALIAS = 'Live';
const DEFAULT_TARGET = 0.7;

const stageSchema = {
  type: 'object',
  properties: {
    provisioned: { type: 'integer', minimum: 1 },
    min: { type: 'integer', minimum: 1 },
    max: { type: 'integer', minimum: 1 },
    targetUtilization: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    scaleInCooldown: { type: 'integer', minimum: 0 },
    scaleOutCooldown: { type: 'integer', minimum: 0 },
    scheduledActions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
          schedule: { type: 'string' },
          timezone: { type: 'string' },
          min: { type: 'integer', minimum: 0 },
          max: { type: 'integer', minimum: 1 },
        },
        required: ['name', 'schedule', 'min', 'max'],
        additionalProperties: false,
      },
    },
  },
  required: ['provisioned', 'min', 'max'],
  additionalProperties: false,
};

class ProvisionedConcurrencyOnAlias {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.provider = serverless.getProvider('aws');
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.addResources(),
    };
    if (serverless.configSchemaHandler && serverless.configSchemaHandler.defineCustomProperties) {
      serverless.configSchemaHandler.defineCustomProperties({
        type: 'object',
        properties: {
          provisionedConcurrency: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: {
                alias: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
                stages: { type: 'object', additionalProperties: stageSchema },
              },
              required: ['stages'],
              additionalProperties: false,
            },
          },
        },
      });
    }
  }

  fail(message) {
    throw new this.serverless.classes.Error(`provisioned-concurrency-on-alias: ${message}`);
  }

  addResources() {
    const settings = (this.serverless.service.custom || {}).provisionedConcurrency || {};
    const stage = this.provider.getStage();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const naming = this.provider.naming;
    const added = [];

    for (const [functionKey, setting] of Object.entries(settings)) {
      const perStage = (setting.stages || {})[stage];
      if (!perStage) continue;
      if (!this.serverless.service.getAllFunctions().includes(functionKey)) {
        this.fail(`function "${functionKey}" is not defined in this service`);
      }
      const { provisioned, min, max } = perStage;
      if (!(min <= provisioned && provisioned <= max)) {
        this.fail(`${functionKey}/${stage}: need min <= provisioned <= max (got ${min}, ${provisioned}, ${max})`);
      }
      const alias = setting.alias || DEFAULT_ALIAS;
      const functionLogicalId = naming.getLambdaLogicalId(functionKey);
      const aliasLogicalId = `${functionLogicalId}Alias${alias}`;
      const aliasResource = template.Resources[aliasLogicalId];
      if (!aliasResource || aliasResource.Type !== 'AWS::Lambda::Alias') {
        this.fail(
          `${functionKey}/${stage}: no alias ${aliasLogicalId} in the template. Give the function ` +
            `deploymentSettings (alias ${alias}) and list this plugin after serverless-plugin-canary-deployments.`
        );
      }
      aliasResource.Properties.ProvisionedConcurrencyConfig = { ProvisionedConcurrentExecutions: provisioned };

      const base = naming.getNormalizedFunctionName(functionKey);
      const targetId = `${base}ProvisionedConcurrencyScalableTarget`;
      const policyId = `${base}ProvisionedConcurrencyScalingPolicy`;
      const target = {
        Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
        // The alias (and its provisioned concurrency) must exist before it is registered.
        DependsOn: [aliasLogicalId],
        Properties: {
          ServiceNamespace: 'lambda',
          ScalableDimension: 'lambda:function:ProvisionedConcurrency',
          ResourceId: { 'Fn::Join': ['', ['function:', { Ref: functionLogicalId }, `:${alias}`]] },
          MinCapacity: min,
          MaxCapacity: max,
        },
      };
      if (perStage.scheduledActions && perStage.scheduledActions.length) {
        target.Properties.ScheduledActions = perStage.scheduledActions.map((action) => {
          if (action.min > action.max) this.fail(`${functionKey}/${stage}: action ${action.name} has min > max`);
          return {
            ScheduledActionName: `${functionKey}-${action.name}`,
            Schedule: action.schedule,
            Timezone: action.timezone || 'UTC',
            ScalableTargetAction: { MinCapacity: action.min, MaxCapacity: action.max },
          };
        });
      }
      template.Resources[targetId] = target;
      template.Resources[policyId] = {
        Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
        Properties: {
          PolicyName: `${this.serverless.service.service}-${stage}-${functionKey}-provisioned-utilization`,
          PolicyType: 'TargetTrackingScaling',
          ScalingTargetId: { Ref: targetId },
          TargetTrackingScalingPolicyConfiguration: {
            TargetValue: perStage.targetUtilization || DEFAULT_TARGET,
            PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' },
            ScaleInCooldown: perStage.scaleInCooldown === undefined ? 300 : perStage.scaleInCooldown,
            ScaleOutCooldown: perStage.scaleOutCooldown === undefined ? 60 : perStage.scaleOutCooldown,
          },
        },
      };
      added.push(`${functionKey}:${alias}=${provisioned} (${min}-${max})`);
    }
    if (added.length && this.serverless.cli && this.serverless.cli.log) {
      this.serverless.cli.log(`Provisioned concurrency on alias: ${added.join(', ')}`);
    }
  }
}

module.exports = ProvisionedConcurrencyOnAlias;
