/**
 * The local sandbox launcher: isolation detection, launch, and the `Sandbox` handle.
 */
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
  type LaunchSpec,
  type MemoryEnforcement,
  type OutputLine,
  type Sandbox,
} from './types.js';
