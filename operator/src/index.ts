/** @netflicks/operator: reconciles RecommenderModel and TrainingRun resources. */
export * from './kube/api.js';
export * from './kube/conditions.js';
export * from './kube/resources.js';
export * from './kube/workqueue.js';
export * from './kube/informer.js';
export * from './kube/leader-election.js';
export * from './kube/controller.js';
export * from './kube/events.js';
export * from './config.js';
export * from './operator.js';
export * from './registry.js';
export * from './types.js';
export { TrainingRunController, statusMetrics, terminationDocument, type JobObject, type PodObject } from './controllers/training-run.js';
export { RecommenderModelController, scheduleTimes, PROMOTE_ANNOTATION, ROLLBACK_ANNOTATION } from './controllers/recommender-model.js';
export { trainingJob, jobNameFor, hyperparameterString } from './controllers/training-job.js';
export { deployment, service, autoscaler, disruptionBudget, servingName, MODEL_VERSION_ANNOTATION } from './controllers/serving.js';
