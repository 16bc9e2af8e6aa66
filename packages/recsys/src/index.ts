export * from './types.js';
export * from './idmap.js';
export * from './sparse.js';
export * from './training-data.js';
export * from './model.js';
