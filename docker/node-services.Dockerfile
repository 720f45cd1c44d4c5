# syntax=docker/dockerfile:1
# kinesalite + dynalite from the committed package-lock.json, run by the same launchers as `make services-up`.
# Inside the container they listen on 0.0.0.0 (--host in docker-compose.yml); compose publishes on 127.0.0.1 only.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# The CDK CLI in package.json is for deploying from a laptop, not needed in this image.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error && rm -rf node_modules/aws-cdk node_modules/.bin/cdk
COPY scripts/local_services/ scripts/local_services/
RUN mkdir -p /data && chown node:node /data
USER node
