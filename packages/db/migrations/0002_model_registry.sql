-- Model registry: versioned, checksummed model artifacts with a lifecycle
--   candidate → validated | rejected;  validated → live → retired;  retired → live (rollback)
-- and MLflow-style aliases (champion = the live version, challenger = the newest validated one).
-- Forward-only: never edit once applied; add 0003_... instead.

-- One row per model name. next_version is the version counter: a trainer takes its number with
-- an UPDATE of this row inside its registration transaction, so concurrent trainers queue on the
-- row lock and never collide, and a rolled-back registration gives its number back.
CREATE TABLE models (
  name          text        PRIMARY KEY CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
  next_version  integer     NOT NULL DEFAULT 1 CHECK (next_version > 0),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Artifacts in chunks: no 1 GB bytea limit, and neither side holds the hex form of a whole file.
-- An artifact is uploaded before its version number is taken (same transaction), so the models
-- row lock that numbers versions is held for milliseconds, not for the upload.
CREATE TABLE model_artifacts (
  id          uuid        PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE model_artifact_chunks (
  artifact_id  uuid    NOT NULL REFERENCES model_artifacts (id) ON DELETE CASCADE,
  seq          integer NOT NULL CHECK (seq >= 0),
  data         bytea   NOT NULL,
  PRIMARY KEY (artifact_id, seq)
);
-- Compressed floats do not compress again: skip TOAST's pglz pass.
ALTER TABLE model_artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE model_versions (
  model_name        text        NOT NULL REFERENCES models (name),
  version           integer     NOT NULL CHECK (version > 0),
  training_run      text,
  algorithms        text[]      NOT NULL CHECK (cardinality(algorithms) > 0),
  hyperparameters   jsonb       NOT NULL DEFAULT '{}',
  holdout           text        NOT NULL,
  -- The data snapshot: newest rating time, row counts and the ratings' fingerprint.
  data_watermark    timestamptz,
  data_fingerprint  text        NOT NULL CHECK (data_fingerprint ~ '^[0-9a-f]{64}$'),
  data_stats        jsonb       NOT NULL DEFAULT '{}',
  metrics           jsonb       NOT NULL DEFAULT '{}',
  -- The live version's metrics on this version's holdout (null: there was no live version).
  baseline          jsonb,
  timings           jsonb       NOT NULL DEFAULT '{}',
  -- The artifact is the gzip-compressed model file (model_artifact_chunks); size and
  -- sha256 are of those compressed bytes (the model file carries its own checksum inside).
  artifact_id       uuid        NOT NULL UNIQUE REFERENCES model_artifacts (id),
  artifact_size     bigint      NOT NULL CHECK (artifact_size > 0),
  artifact_sha256   text        NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
  model_file_size   bigint      NOT NULL CHECK (model_file_size > 0),
  state             text        NOT NULL DEFAULT 'candidate'
                                CHECK (state IN ('candidate', 'validated', 'rejected', 'live', 'retired')),
  verdict           jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  created_by        text        NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  updated_by        text        NOT NULL,
  promoted_at       timestamptz,
  -- The version that was live when this one was promoted: what a rollback goes back to.
  previous_live     integer,
  retired_at        timestamptz,
  PRIMARY KEY (model_name, version)
);
-- Exactly one live version per model.
CREATE UNIQUE INDEX model_versions_one_live ON model_versions (model_name) WHERE state = 'live';
CREATE INDEX model_versions_state_idx ON model_versions (model_name, state, version DESC);

-- Audit trail of every state change (kept after retention deletes a version).
CREATE TABLE model_transitions (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model_name  text        NOT NULL,
  version     integer     NOT NULL,
  from_state  text,
  to_state    text        NOT NULL,
  actor       text        NOT NULL,
  reason      text        NOT NULL DEFAULT '',
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_transitions_model_idx ON model_transitions (model_name, at DESC);
