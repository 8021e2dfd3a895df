'use strict';

/**
 * What each service's dependency layer leaves out: `slimPatterns` of
 * serverless-python-requirements (globs under the layer's python/ folder, added to
 * the plugin's defaults, which drop bytecode, __pycache__ and *.dist-info; bytecode
 * is compiled back by plugins/precompile-layer-bytecode.js).
 *
 * Everything here is code no function imports: a package of the same pinned
 * versions, minus Powertools utilities and X-Ray integrations we do not use,
 * the Swagger UI bundle and C sources (no pydantic: the functions validate with
 * checked records, handlers/shared/records.py). tests/infra/test_layers.py imports
 * every handler of each service from its packaged layer, so a pattern that removes
 * something used fails the build.
 */
const COMMON = [
  // Powertools utilities no service uses.
  'aws_lambda_powertools/utilities/auth_alpha',
  'aws_lambda_powertools/utilities/circuit_breaker',
  'aws_lambda_powertools/utilities/data_masking',
  'aws_lambda_powertools/utilities/feature_flags',
  'aws_lambda_powertools/utilities/kafka',
  'aws_lambda_powertools/utilities/parameters',
  'aws_lambda_powertools/utilities/parser',
  'aws_lambda_powertools/utilities/streaming',
  'aws_lambda_powertools/utilities/validation',
  // The Swagger UI assets (we serve no OpenAPI UI from a function).
  'aws_lambda_powertools/event_handler/openapi/swagger_ui',
  // X-Ray SDK: only its botocore patch is used (Tracer patch_modules=botocore).
  ...[
    'aiobotocore', 'aiohttp', 'bottle', 'django', 'flask', 'flask_sqlalchemy', 'httplib', 'httpx',
    'mysql', 'pg8000', 'psycopg', 'psycopg2', 'pymongo', 'pymysql', 'pynamodb', 'requests',
    'sqlalchemy', 'sqlalchemy_core', 'sqlite3', 'dbapi2.py',
  ].map((name) => `aws_xray_sdk/ext/${name}`),
  // Sources of compiled extensions and typing stubs.
  'wrapt/*.c',
  'wrapt-stubs',
  '**/*.pyi',
  '**/py.typed',
];

// Per service: the Powertools parts it never imports (HTTP routes need event_handler
// and data_classes; booking needs idempotency; loyalty needs batch and data_classes).
const UNUSED = {
  'airline-autoscaling': ['event_handler', 'utilities/idempotency', 'utilities/batch', 'utilities/data_classes'],
  'airline-booking': ['utilities/batch'],
  'airline-catalog': ['utilities/idempotency', 'utilities/batch'],
  'airline-loyalty': ['utilities/idempotency'],
  'airline-payment': ['event_handler', 'utilities/idempotency', 'utilities/batch', 'utilities/data_classes'],
};

module.exports = async ({ resolveVariable }) => {
  const service = await resolveVariable('self:service');
  if (!(service in UNUSED)) {
    throw new Error(`services/common/layer-slim.js: no layer contents for service ${service}`);
  }
  return [...COMMON, ...UNUSED[service].map((part) => `aws_lambda_powertools/${part}`)];
};
