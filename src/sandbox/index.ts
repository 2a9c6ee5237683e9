/**
 * The launcher seam (`Launcher`, see launcher.ts) and its local implementation: isolation
 * detection, launch, and the `Sandbox` handle.
 */
export { createLocalLauncher, type LocalLauncherOptions } from './local-launcher.js';
export { chooseIsolation } from './isolation.js';
export type {
  GatewayPort,
  LaunchRequest,
  Launcher,
  LauncherReport,
  PreparedLaunch,
  WarmClaim,
  WarmRequest,
  WarmSandbox,
} from './launcher.js';
export { detectIsolation } from './detect.js';
export { launch } from './launch.js';
export { createSandboxDirs, sweepStaleSandboxDirs, type SandboxDirs } from './dirs.js';
export { runtimeBootstrapPath } from './paths.js';
export { SANDBOX_GATEWAY_SOCKET, SANDBOX_SCRATCH } from './command.js';
export {
  ISOLATION_LEVELS,
  type CgroupVersion,
  type IsolationLevel,
  type IsolationReport,
  type IsolationRequest,
  type LaunchSpec,
  type MemoryEnforcement,
  type OutputLine,
  type Sandbox,
} from './types.js';
