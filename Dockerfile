# syntax=docker/dockerfile:1
# One image for every Netflicks component: the entrypoint is the `netflicks` CLI and each
# Deployment/Job picks its command (ingest, simulate, train, serve, operator, ...).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY services services
# npm ci runs `prepare` (tsc -b), then dev dependencies are dropped.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund \
 && find packages services -name '*.tsbuildinfo' -delete

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
ENTRYPOINT ["node", "/app/services/cli/bin/netflicks.js"]
CMD ["--help"]
