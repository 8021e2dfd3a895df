'use strict';

/**
 * What a compute stack needs for stage-based blue/green (docs/blue-green.md).
 *
 * Reads `custom.blueGreen` (services/common/blue-green.yml: colour, env, contract).
 *
 * Every stage:
 * - the HTTP API's id and URL are exported as `<service>-<stage>-HttpApiId` / `-HttpApiUrl`:
 *   the router stack (services/router) imports the live colour's;
 * - an output `DataContract` (JSON: event schema version, key schema of every table the code
 *   expects), which promotion compares with the live colour's and with the deployed tables.
 *
 * Colour stages (`colour` blue or green) only:
 * - a parameter `LiveColour` of type `AWS::SSM::Parameter::Value<String>` on the router's record
 *   `/airline-<env>/live-colour`, a condition `IsLiveColour`, and every SQS event source
 *   mapping's `Enabled` and every schedule rule's `State` made conditional on it: queue
 *   consumers and schedules run in the live colour only (a schedule whose function is listed in
 *   `custom.everyColour` keeps running in both: it acts on its own colour's work only). CloudFormation reads the parameter
 *   at every create and update of the stack, so promotion flips them with a stack update
 *   (no hand-edit that would drift) and any later deploy keeps them as the router says.
 *
 * The plugin names every resource it makes conditional on the console.
 */
class BlueGreenStage {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.apply(),
    };
  }

  apply() {
    const service = this.serverless.service;
    const settings = (service.custom || {}).blueGreen;
    if (!settings) throw new Error('blue-green-stage: custom.blueGreen is missing (services/common/blue-green.yml)');
    const stage = this.serverless.getProvider('aws').getStage();
    const template = service.provider.compiledCloudFormationTemplate;
    template.Outputs = template.Outputs || {};
    if (template.Outputs.HttpApiUrl) {
      // The API's own endpoint attribute (the same https://<id>.execute-api.<region>.amazonaws.com
      // the framework joins by hand), so that the local cloud's gateway answers with its own URL.
      template.Outputs.HttpApiUrl.Value = { 'Fn::GetAtt': ['HttpApi', 'ApiEndpoint'] };
    }
    for (const name of ['HttpApiId', 'HttpApiUrl']) {
      if (template.Outputs[name]) template.Outputs[name].Export = { Name: `${service.service}-${stage}-${name}` };
    }
    template.Outputs.DataContract = {
      Description: 'What this stage expects of the environment data (blue/green promotion checks it)',
      Value: JSON.stringify(settings.contract),
    };
    const colour = String(settings.colour || '');
    if (!colour) return;
    if (!['blue', 'green'].includes(colour)) throw new Error(`blue-green-stage: colour ${colour} is not blue or green`);
    const naming = this.serverless.getProvider('aws').naming;
    const everyColour = new Set((service.custom.everyColour || []).map((fn) => naming.getLambdaLogicalId(fn)));
    const targets = (rule) => (rule.Properties.Targets || []).map((t) => JSON.stringify(t.Arn));
    const oneColour = [];
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const properties = resource.Properties || {};
      if (resource.Type === 'AWS::Lambda::EventSourceMapping') {
        oneColour.push(() => {
          properties.Enabled = { 'Fn::If': ['IsLiveColour', true, false] };
          this.log(`${logicalId}: consumes only while ${colour} is live`);
        });
      } else if (resource.Type === 'AWS::Events::Rule' && properties.ScheduleExpression) {
        if (properties.State === 'DISABLED') continue;
        if (targets(resource).some((arn) => [...everyColour].some((id) => arn.includes(`"${id}"`)))) {
          this.log(`${logicalId}: runs in every colour (custom.everyColour)`);
          continue;
        }
        oneColour.push(() => {
          properties.State = { 'Fn::If': ['IsLiveColour', 'ENABLED', 'DISABLED'] };
          this.log(`${logicalId}: runs only while ${colour} is live`);
        });
      }
    }
    if (oneColour.length === 0) return; // nothing to hand over: the stack never reads the live colour
    template.Parameters = template.Parameters || {};
    template.Parameters.LiveColour = {
      Type: 'AWS::SSM::Parameter::Value<String>',
      Default: `/airline-${settings.env}/live-colour`,
      Description: 'The live colour of the environment (router stack); consumers and schedules run in it only',
    };
    template.Conditions = template.Conditions || {};
    template.Conditions.IsLiveColour = { 'Fn::Equals': [{ Ref: 'LiveColour' }, colour] };
    oneColour.forEach((apply) => apply());
  }

  log(message) {
    this.serverless.cli.log(`blue-green-stage: ${message}`);
  }
}

module.exports = BlueGreenStage;
