"use strict";
// A local osls plugin (serverless.yml `plugins:`): before anything is packaged, check that the
// Python which builds the Lambda dependencies (custom.pythonRequirements.pythonBin) runs and is
// the runtime's version (custom.pythonVersion). Without it, serverless-python-requirements says
// "python3.12 not found! Install it according to the poetry docs", or, when an earlier build is
// in its cache (~/.cache/serverless-python-requirements), packages without asking for Python.
const { spawnSync } = require("node:child_process");

class RequirePython {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      "before:package:createDeploymentArtifacts": () => this.check(),
      "before:deploy:function:packageFunction": () => this.check(),
    };
  }

  check() {
    const custom = this.serverless.service.custom || {};
    const bin = (custom.pythonRequirements || {}).pythonBin;
    const wanted = String(custom.pythonVersion);
    const how =
      `The Lambda dependencies are built with Python ${wanted}: install it (python${wanted} ` +
      `on PATH), or set AIOPS_LAMBDA_PYTHON=/path/to/python${wanted}.`;
    const run = spawnSync(bin, ["-c", 'import sys; print("%d.%d" % sys.version_info[:2])'], {
      encoding: "utf8",
    });
    if (run.error || run.status !== 0) {
      throw new this.serverless.classes.Error(`${bin} does not run. ${how}`);
    }
    const found = run.stdout.trim();
    if (found !== wanted) {
      throw new this.serverless.classes.Error(`${bin} is Python ${found}, not ${wanted}. ${how}`);
    }
  }
}

module.exports = RequirePython;
