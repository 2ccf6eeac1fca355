# hottask-proxy image. The last stage (`runtime`) is what ships and what `docker build`
# and compose build by default; `simulator` is an extra target for the compose demo.
#
# Base: Debian bookworm slim, not alpine. Node's glibc builds are its tier-1 platform
# (musl builds are "experimental"), and the image that scripts/container-test.sh builds
# here uses the official glibc binary on Debian bookworm, so what is tested matches what
# ships. Pinned to the exact Node version of the `node` devDependency (package-lock.json);
# bump both together. Pin a digest too (`node:24.21.0-bookworm-slim@sha256:…`) where a
# registry is reachable. The test script overrides this with a locally assembled base.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the lockfile's production tree. `--omit=dev` skips the `node` devDependency
# (the only package with an install script); `--ignore-scripts` keeps it that way even
# if a future npm or dependency changes, since no production dependency needs a script.
# npm's cache stays behind in this stage, which never ships.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The simulated upstream for compose's `demo` profile. A separate target, so the shipped
# image carries no simulator code; it needs no npm packages (node:http only), and
# package.json only for `"type": "module"`. Listens on all interfaces inside its container.
FROM ${NODE_IMAGE} AS simulator
ENV NODE_ENV=production SIM_HOST=0.0.0.0 SIM_PORT=4010
WORKDIR /app
COPY package.json ./
COPY simulator/ ./simulator/
USER 1000:1000
EXPOSE 4010
STOPSIGNAL SIGTERM
CMD ["node", "simulator/main.ts"]

FROM ${NODE_IMAGE} AS runtime
# glibc gives each thread that allocates (libuv's pool, V8's helpers) a malloc arena of
# its own; two arenas keep idle and peak RSS lower (docs/performance.md has the figures).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
# Owned by root and not writable by the service user: the process cannot change its own
# code, and it never writes to the filesystem, so a read-only root filesystem works.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY scripts/healthcheck.ts ./scripts/healthcheck.ts
COPY src/ ./src/
# Numeric, so orchestrators can verify runAsNonRoot (uid 1000 is `node` in the base).
USER 1000:1000
EXPOSE 3000
# server.ts drains on SIGTERM; exec-form CMD makes node PID 1, so the signal reaches it.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "scripts/healthcheck.ts"]
# Memory flags, measured by `npm run bench` (docs/performance.md): V8 sizes the young
# generation by the host's memory and lets the old generation grow up to 4x its live
# size between full collections, so with many requests waiting on a slow upstream the
# garbage grows with the host. Small semi-spaces and slower growth keep peak RSS flat;
# the price is more collection work when many requests wait at once (the trade is in
# docs/performance.md). V8 flags that NODE_OPTIONS does not accept, so they are
# arguments; package.json's `start` and deploy/production.ts agree (a test keeps them so).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=25", "src/server.ts"]
