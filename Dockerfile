# One image for web and workers; the command picks the role (see docker-compose.yml).
FROM node:20-bookworm-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt django-storages[s3]==1.14.6
COPY . .
COPY --from=frontend /app/frontend/dist ./frontend/dist
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v 0
RUN useradd --create-home --uid 1000 vmb && mkdir -p /app/var/prometheus && chown -R vmb /app/var
USER vmb
EXPOSE 8000
# uvicorn streams request bodies to the app, whose size limits then hold before a body is read.
CMD ["uvicorn", "--host", "0.0.0.0", "--port", "8000", "--http", "httptools", "--ws", "websockets", \
     "--lifespan", "off", "--no-proxy-headers", "--timeout-graceful-shutdown", "5", "config.asgi:application"]
