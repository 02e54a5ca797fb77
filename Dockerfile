# privguard: multi-stage build on Node 20 slim; runs as the unprivileged "node" user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The same build as `npm ci` runs through `prepare` (npm run build), run
# explicitly once the sources are in; then only runtime dependencies are kept.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# Every command's -c defaults to $PRIVGUARD_CONFIG: mount the policy here, or point the variable elsewhere.
ENV NODE_ENV=production PRIVGUARD_CONFIG=/etc/privguard/policy.yaml
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
USER node
EXPOSE 5347
# `privguard health` (no curl in the image) asks the running process's /healthz when the policy has
# `metrics`, and otherwise checks that the listen port accepts connections.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/dist/src/cli.js", "health", "--timeout", "3000"]
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/dist/src/cli.js"]
CMD ["run"]
