/** What `netflicks quickstart` was asked for, and the same once every flag has been checked. */
import type { MovielensFolder } from './dataset-source.js';

export interface QuickstartFlags {
  movielens?: string;
  users?: number;
  movies?: number;
  ratings?: number;
  port: number;
  host?: string;
  model: string;
  streamFraction: number;
  seed: number;
  retrain?: boolean;
  reset?: boolean;
}

/** The flags, checked and resolved: what the pipeline runs with. */
export interface QuickstartPlan extends QuickstartFlags {
  host: string;
  /** The MovieLens folder and its ratings file, when --movielens was given. */
  movielensFolder?: MovielensFolder;
  /** The user chose the data (--movielens, --users, --movies, --ratings or --seed). */
  datasetChosen: boolean;
}
