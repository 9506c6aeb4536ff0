# Sluice in a container: `docker compose up -d` (see docker-compose.yml), or
#   docker build -t sluice . && docker run --rm -p 127.0.0.1:6380:6380 sluice
# Configure it with SLUICE_* environment variables (SLUICE_REQUIREPASS, SLUICE_MAXCLIENTS, ...)
# or a YAML file given with SLUICE_CONFIG; `docker run --rm sluice node daemon/dist/cli.js --help`
# lists every option.

ARG NODE_VERSION=20.20.2

# --- build: the Rust addon (release, via napi-rs) and the TypeScript of protocol/ and daemon/ ---
FROM node:${NODE_VERSION}-bookworm AS build
# The node:*-bookworm image already has gcc, make and curl; Rust comes from rustup.
ARG RUST_VERSION=1.95.0
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --no-modify-path --profile minimal --default-toolchain ${RUST_VERSION}
WORKDIR /src
# Every workspace's package.json, so `npm ci` matches the lockfile; no install scripts are
# needed, and skipping them skips the root `prepare` build (done below, for what runs).
COPY package.json package-lock.json ./
COPY native/package.json native/
COPY protocol/package.json protocol/
COPY daemon/package.json daemon/
COPY client/package.json client/
COPY bench/package.json bench/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY native/ native/
COPY protocol/ protocol/
COPY daemon/ daemon/
RUN npm run build -w native && npx tsc -b daemon

# --- prod-deps: the daemon's runtime packages: yaml and links to native/ and protocol/ (npm's
# workspace filter also keeps the client's ioredis, under 3 MB with its dependencies) ---
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/package.json native/
COPY protocol/package.json protocol/
COPY daemon/package.json daemon/
COPY client/package.json client/
COPY bench/package.json bench/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w @sluice/daemon \
    && npm cache clean --force

# --- runtime ---
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    SLUICE_BIND=0.0.0.0
WORKDIR /app
COPY --from=prod-deps /app/node_modules/ node_modules/
COPY package.json ./
COPY native/package.json native/
COPY protocol/package.json protocol/
COPY daemon/package.json daemon/
COPY --from=build /src/native/index.js /src/native/*.node native/
COPY --from=build /src/protocol/dist/ protocol/dist/
COPY --from=build /src/daemon/dist/ daemon/dist/
# The snapshot file (docs/durability.md) lives in /data, writable by the unprivileged user;
# mount a volume there so limits and routing state survive the container.
RUN mkdir -p /data && chown node:node /data
ENV SLUICE_DIR=/data
VOLUME /data
USER node
EXPOSE 6380
# Healthy when the daemon answers PING with +PONG (after AUTH when SLUICE_REQUIREPASS is set).
# -NOAUTH also counts: the password then comes from a config file the check cannot read, but
# the daemon is answering. No extra packages: node opens the socket itself (exec form, no shell).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=process.env.SLUICE_REQUIREPASS||'',b=(x)=>'$'+Buffer.byteLength(x)+'\\r\\n'+x+'\\r\\n',s=require('net').connect(+process.env.SLUICE_PORT||6380,'127.0.0.1',()=>s.write((p?'*2\\r\\n'+b('AUTH')+b(p):'')+'*1\\r\\n'+b('PING')));let d='';s.on('data',(c)=>{d+=c;if(/\\+PONG|-NOAUTH/.test(d))process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),3000)"]
CMD ["node", "daemon/dist/cli.js"]
