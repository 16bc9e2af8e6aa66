export const DATA_VERSION = 1;
