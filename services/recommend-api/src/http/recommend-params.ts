/**
 * The parameters of a recommendation request (`/recommend/:userId` and the console's copy of
 * it), parsed and checked against the served model in one place so both answer bad input alike.
 */
import type { ServingModel } from '../model/serving-model.js';
import { ApiError } from './errors.js';
import { parseBool, parseGenre, parseId, parseK } from './params.js';
import { parseQuery } from './query.js';

export interface RecommendParams {
  userId: number;
  k: number;
  genre: string | undefined;
  excludeSeen: boolean;
}

export function parseRecommendParams(model: ServingModel, rawUserId: string | undefined, querystring: string): RecommendParams {
  const userId = parseId(rawUserId, 'user');
  const query = parseQuery(querystring);
  const k = parseK(query.k);
  const genre = parseGenre(query.genre);
  const excludeSeen = parseBool('exclude_seen', query.exclude_seen, true);
  if (genre !== undefined && !model.engine.hasGenre(genre)) {
    throw new ApiError(400, 'unknown_genre', `unknown genre ${JSON.stringify(genre.slice(0, 64))}; known: ${model.engine.genres.join(', ')}`);
  }
  return { userId, k, genre, excludeSeen };
}
