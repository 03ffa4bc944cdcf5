// Each verb lives in its own module; this list is the only place they are wired.
import type { Command } from 'commander';
import { registerAnalyze } from './analyze.js';
import { registerApply } from './apply.js';
import { registerController } from './controller.js';
import { registerCreate } from './create.js';
import { registerDashboard } from './dashboard.js';
import { registerDelete } from './delete.js';
import { registerDescribe } from './describe.js';
import { registerDown } from './down.js';
import { registerExec } from './exec.js';
import { registerInstall } from './install.js';
import { registerGet } from './get.js';
import { registerKubeconfig } from './kubeconfig.js';
import { registerLabel } from './label.js';
import { registerLogs } from './logs.js';
import { registerProxy } from './proxy.js';
import { registerProxyConfig } from './proxy-config.js';
import { registerProxyStatus } from './proxy-status.js';
import { registerUp } from './up.js';
import { registerValidate } from './validate.js';
import { registerVersion } from './version.js';

export function registerCommands(program: Command): void {
  registerVersion(program);
  registerUp(program);
  registerDown(program);
  registerKubeconfig(program);
  registerApply(program);
  registerDelete(program);
  registerGet(program);
  registerDescribe(program);
  registerCreate(program);
  registerLabel(program);
  registerExec(program);
  registerLogs(program);
  registerProxy(program);
  registerController(program);
  registerInstall(program);
  registerProxyConfig(program);
  registerProxyStatus(program);
  registerValidate(program);
  registerAnalyze(program);
  registerDashboard(program);
}
