/** @netflicks/trainer: the training Job (snapshot, train, evaluate, register) and its building blocks. */
export * from './algorithms.js';
export * from './config.js';
export * from './exit-codes.js';
export * from './hyperparameters.js';
export * from './job.js';
export * from './progress.js';
export * from './trainer.js';
export * from './training.js';
