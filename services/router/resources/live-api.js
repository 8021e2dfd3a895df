'use strict';

// The live colour's HTTP API id and URL per service, as imports of the colour stage's exports
// (plugins/blue-green-stage.js): { booking: { id, url }, catalog: ..., loyalty: ... }.
module.exports = async ({ resolveVariable }) => {
  const env = await resolveVariable('param:env');
  const imported = (service, name) => ({
    'Fn::ImportValue': { 'Fn::Join': ['', [`airline-${service}-${env}-`, { Ref: 'LiveColour' }, `-${name}`]] },
  });
  const apis = {};
  for (const service of ['booking', 'catalog', 'loyalty']) {
    apis[service] = { id: imported(service, 'HttpApiId'), url: imported(service, 'HttpApiUrl') };
  }
  return apis;
};
