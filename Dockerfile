# syntax=docker/dockerfile:1.7
#
# Netflicks images. One Dockerfile, one target per component; every target is the same runtime
# (the `netflicks` CLI as ENTRYPOINT) with its own default command, ports and HEALTHCHECK:
#
#   docker build --target operator      -t netflicks-operator .       netflicks operator      :9102
#   docker build --target recommend-api -t netflicks-recommend-api .  netflicks serve         :8082
#   docker build --target ingest        -t netflicks-ingest .         netflicks ingest        :9101
#   docker build --target evaluator     -t netflicks-evaluator .      netflicks evaluate-online :9103
#   docker build --target simulator     -t netflicks-simulator .      netflicks simulate      (batch)
#   docker build --target trainer       -t netflicks-trainer .        netflicks trainer       (the Job)
#
# The targets share every layer but the last few metadata ones, so six images cost one on disk
# and in a registry. The operator starts trainer Jobs and recommend-API Deployments with explicit
# args (`trainer`, `serve`), so any target works for them; the chart passes the trainer and
# recommend-api images in the RecommenderModel it creates.
#
# Base image: a build argument. The default is an exact Node release; for production builds pin
# the digest too, e.g. --build-arg BASE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest>
# (no registry is reachable from the machine this was written on, so the digest is not baked in).
ARG NODE_VERSION=20.20.2
ARG BASE_IMAGE=node:${NODE_VERSION}-bookworm-slim

# ---- build: full install (TypeScript is a dev dependency) and `tsc -b` ------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY services services
COPY operator operator
# `npm ci` runs the root `prepare` script, which is `tsc -b`: every workspace's dist/ is emitted.
RUN --mount=type=cache,target=/root/.npm npm ci
# What runs, and nothing else: each workspace's manifest and compiled JS, the CLI launcher and
# the SQL migrations (read from packages/db/migrations at run time). No sources, maps or typings.
RUN mkdir -p /out /manifests \
 && for ws in packages/* services/* operator; do \
      mkdir -p "/out/$ws" "/manifests/$ws" \
      && cp "$ws/package.json" "/manifests/$ws/package.json" \
      && cp -r "$ws/dist" "/out/$ws/dist"; \
    done \
 && cp -r services/cli/bin /out/services/cli/bin \
 && cp -r packages/db/migrations /out/packages/db/migrations \
 && cp package.json package-lock.json /manifests/ \
 && find /out \( -name '*.map' -o -name '*.d.ts' -o -name '*.tsbuildinfo' \) -delete

# ---- prod-deps: production dependencies only, from the lockfile -------------------------------
FROM ${BASE_IMAGE} AS prod-deps
WORKDIR /app
ENV npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
COPY --from=build /manifests/ ./
# --omit=optional drops embedded-postgres' 60 MB platform binaries (a developer convenience: in a
# cluster DATABASE_URL is always set) and pg-cloudflare. --ignore-scripts: `prepare` needs tsc,
# and no production dependency has an install script.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --ignore-scripts

# ---- runtime: the shared final image ----------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# npm, npx, corepack and yarn are not needed to run: removing them shrinks the image and what an
# attacker could use.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# Owned by root and not writable by the runtime user; only /tmp needs to be writable, so a
# read-only root filesystem with an emptyDir on /tmp works (the chart does exactly that).
COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
# The source commit, for MLflow's run tags (test/k8s/images.sh passes it); last, so a new commit
# rebuilds only this layer.
ARG NETFLICKS_GIT_COMMIT=""
ENV NETFLICKS_GIT_COMMIT=${NETFLICKS_GIT_COMMIT}
# Numeric, so Kubernetes can verify runAsNonRoot without a passwd lookup (uid 1000 = `node`).
USER 1000:1000
# A shell launcher that execs node with the process settings of each command (serve's heap flags
# and malloc arenas, which no environment of the Deployment may set: services/cli/bin/netflicks.sh).
ENTRYPOINT ["/app/services/cli/bin/netflicks.sh"]
CMD ["--help"]

# ---- one target per component ------------------------------------------------------------------
FROM runtime AS operator
ENV OPERATOR_METRICS_PORT=9102
EXPOSE 9102
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.OPERATOR_METRICS_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["operator"]

FROM runtime AS recommend-api
ENV PORT=8082
EXPOSE 8082
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["serve"]

FROM runtime AS ingest
ENV INGEST_METRICS_PORT=9101
EXPOSE 9101
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.INGEST_METRICS_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["ingest"]

FROM runtime AS evaluator
ENV ONLINE_EVAL_METRICS_PORT=9103
EXPOSE 9103
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.ONLINE_EVAL_METRICS_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["evaluate-online"]

# Batch processes: they run to completion and serve no HTTP, so there is nothing to probe.
FROM runtime AS simulator
HEALTHCHECK NONE
CMD ["simulate", "--format", "synthetic", "--time", "now"]

FROM runtime AS trainer
HEALTHCHECK NONE
CMD ["trainer"]
