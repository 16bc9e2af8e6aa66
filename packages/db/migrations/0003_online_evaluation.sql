-- Online evaluation of served recommendation lists (issue 5 §3): each recommendation request is
-- joined with the same user's later watch and rating events within a window; the evaluator
-- (packages/db/src/online-evaluation.ts) aggregates closed time buckets of requests by model
-- version and strategy, once each, and moves a watermark forward in the same transaction.
-- Forward-only: never edit once applied; add 0004_... instead.

-- The evaluator reads requests by time bucket. Rows arrive in (nearly) occurred_at order, so a
-- BRIN index finds a bucket's pages while costing next to nothing on the ingest path (a btree
-- here would be one more index write per served list).
CREATE INDEX recommendation_requests_time_brin ON recommendation_requests USING brin (occurred_at);

-- One evaluation series per (window, watch threshold): changing either starts a new series
-- rather than mixing definitions in one. evaluated_until: every request with occurred_at before
-- it has been evaluated (NULL: nothing yet). Buckets are [k·bucket_seconds, (k+1)·bucket_seconds)
-- in epoch seconds. The row is locked (FOR UPDATE) while a bucket is evaluated, so concurrent
-- evaluators queue instead of evaluating a bucket twice.
CREATE TABLE online_evaluation_watermarks (
  window_seconds     integer     NOT NULL CHECK (window_seconds > 0),
  min_watch_seconds  integer     NOT NULL CHECK (min_watch_seconds >= 0),
  bucket_seconds     integer     NOT NULL CHECK (bucket_seconds > 0),
  evaluated_until    timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_seconds, min_watch_seconds)
);

-- Per series, bucket, model version and strategy: requests and the hits among them (a later
-- engagement with at least one served item within the window), and served and engaged items
-- (distinct per request) for the click-through rate. Rates are sums over rows, never averages
-- of rates, so any period's rate is sum(hits) / sum(requests).
CREATE TABLE online_evaluation_results (
  window_seconds     integer     NOT NULL,
  min_watch_seconds  integer     NOT NULL,
  bucket_start       timestamptz NOT NULL,
  bucket_end         timestamptz NOT NULL CHECK (bucket_end > bucket_start),
  model_version      text        NOT NULL,
  strategy           text        NOT NULL,
  requests           integer     NOT NULL CHECK (requests > 0),
  hits               integer     NOT NULL CHECK (hits >= 0 AND hits <= requests),
  items_served       bigint      NOT NULL CHECK (items_served >= 0),
  items_engaged      bigint      NOT NULL CHECK (items_engaged >= 0 AND items_engaged <= items_served),
  evaluated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (window_seconds, min_watch_seconds, bucket_start, model_version, strategy),
  FOREIGN KEY (window_seconds, min_watch_seconds) REFERENCES online_evaluation_watermarks (window_seconds, min_watch_seconds)
);
