/** Which factor matrix a half-step recomputes. */
export type Side = 'users' | 'items';
