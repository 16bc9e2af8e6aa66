/**
 * Model names: a RecommenderModel's metadata.name is the registry's model name, the Job's
 * MODEL_NAME and part of Deployment names, so it must be a Kubernetes DNS label.
 */
export const MODEL_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

