'use strict';

/**
 * Ships each function's own code with bytecode that Lambda can use as is.
 *
 * A function zip holds only .py sources, and /var/task is read-only, so every
 * cold start compiled the handler's own modules (and shared ones) again. After
 * the framework has zipped the functions and before it compiles the template
 * (the version hash is taken from the final zip), this plugin adds
 * `__pycache__/<module>.cpython-3XX.pyc` in `unchecked-hash` mode next to every
 * .py of every function artifact, compiled by the runtime's Python (pythonBin of
 * serverless-python-requirements, 3.13), through plugins/add_bytecode.py.
 * Sources stay in the zip, so tracebacks keep their lines.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

class PrecompileFunctionBytecode {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'after:package:createDeploymentArtifacts': () => this.compile(),
    };
  }

  compile() {
    const servicePath = this.serverless.serviceDir || this.serverless.config.servicePath;
    const service = this.serverless.service;
    const artifacts = new Set();
    for (const name of service.getAllFunctions()) {
      const artifact = ((service.getFunction(name).package || {}).artifact) || '';
      if (artifact.endsWith('.zip') && fs.existsSync(path.resolve(servicePath, artifact))) {
        artifacts.add(path.resolve(servicePath, artifact));
      }
    }
    if (artifacts.size === 0) return;
    const settings = (service.custom || {}).pythonRequirements || {};
    const python = path.resolve(servicePath, settings.pythonBin || 'python3');
    const result = spawnSync(python, [path.join(__dirname, 'add_bytecode.py'), ...artifacts], { stdio: 'inherit' });
    if (result.status !== 0) {
      throw new Error(`precompile-function-bytecode: add_bytecode.py failed (${python}, exit ${result.status})`);
    }
  }
}

module.exports = PrecompileFunctionBytecode;
