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
ENV NODE_ENV=production PRIVGUARD_HEALTH_PORT=5347
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
USER node
EXPOSE 5347
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "require('net').connect(Number(process.env.PRIVGUARD_HEALTH_PORT),'127.0.0.1').on('connect',function(){this.destroy();process.exit(0)}).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/dist/src/cli.js"]
CMD ["run", "-c", "/etc/privguard/policy.yaml"]
