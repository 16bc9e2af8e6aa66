export * from './uuid.js';
export * from './stream.js';
export * from './invalid.js';
export * from './simulator.js';
export * from './loop.js';
