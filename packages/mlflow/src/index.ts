/** @netflicks/mlflow: MLflow as a copy of Netflicks' registry (tracking runs, registry mirror). */
export * from './client.js';
export * from './registry.js';
export * from './tracking.js';
export * from './mirror.js';
export { sourceCommit } from './source-commit.js';
